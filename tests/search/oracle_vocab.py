"""Fixed small vocabularies the search property test builds directories and queries from
(tests/search/test_search_oracle.py): names, systems, codes, dates and places chosen so
that prefixes, accents, escapes and ranges collide often."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

T0 = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
S = st.SearchStrategy

IDS: dict[str, list[str]] = {
    "Organization": ["o1", "o2", "o3", "o4"],
    "Location": ["l1", "l2", "l3"],
    "PractitionerRole": ["r1", "r2", "r3", "r4"],
    "Practitioner": ["p1", "p2"],
    "Endpoint": ["e1", "e2"],
}
TYPES = list(IDS)
ALL_KEYS = [(t, i) for t, ids in IDS.items() for i in ids]

ORG_NAMES = [
    "Müller Praxis",
    "Muller Health Centre",
    "St Mary's Hospital",
    "Smith, Jones & Co",
    "Saint Helier Clinic",
    "Ærø Health",
    "Imperial College Healthcare",
]
ORG_ALIASES = ["Old Müller", "Mary's", "Imperial", "The Leeds"]
LOC_NAMES = ["Charing Cross Hospital", "St Thomas' Site", "Leeds General", "Müller Annex"]
EP_NAMES = ["Millennium FHIR", "Epic Interconnect", "Müller, FHIR base"]
FAMILIES = ["Müller", "Smith", "O'Brien", "Smithson", "van den Berg"]
GIVENS = ["Anna", "Ann", "José", "Jo", "Zoë"]
NAME_PREFIXES = ["Dr", "Prof."]
NAME_SUFFIXES = ["MD", "PhD"]
NAME_TEXTS = ["Dr Anna Müller", "Jo Smith"]
CITIES = ["London", "Leeds", "Łódź", "Londonderry", "York"]
POSTCODES = ["SW1A 1AA", "LS1 4AP", "YO1 7HH", "SW1A 2AA"]
LINES = ["1 Hospital Road", "Müller Straße 5", "2, The Parade"]
STATES = ["Greater London", "West Yorkshire"]
ADDRESS_TEXTS = ["Workplace, 1 Hospital Road, London"]

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
GMC = "https://fhir.hl7.org.uk/Id/gmc-number"
ID_SYSTEMS = [ODS, ODS_SITE, GMC]
ID_VALUES = ["RJ1", "RYJ", "A1", "C1234567"]
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ID_TYPE_CODES = ["PRN", "XX", "MD"]
ID_TYPE_TEXTS = ["Provider number", "ODS code", "Numéro"]

ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
NHS_ROLE = "https://fhir.nhs.uk/CodeSystem/organisation-role"
ORG_TYPE_CODES = ["prov", "dept", "govt", "RO197"]
ORG_TYPE_TEXTS = ["Healthcare Provider", "Hospital Department", "NHS Trust", "Département"]

SNOMED = "http://snomed.info/sct"
ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ROLE_CODES = ["doctor", "nurse", "pharmacist", "394814009"]
ROLE_TEXTS = ["Doctor", "Nurse", "General practice", "Pharmacist"]

LOC_TYPE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
LOC_TYPE_CODES = ["HOSP", "PHARM", "AMB"]
LOC_TYPE_TEXTS = ["Hospital", "Pharmacy", "Ambulance"]
V2_0116 = "http://terminology.hl7.org/CodeSystem/v2-0116"
OPSTAT_CODES = ["H", "O", "C"]
OPSTAT_TEXTS = ["Housekeeping", "Occupied", "Closed"]

CONN = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
CONN_CODES = ["hl7-fhir-rest", "direct-project", "ihe-xcpd"]
CONN_TEXTS = ["HL7 FHIR", "Direct Project", "IHE XCPD"]
EHR_EXT = "https://fhir-sandbox.dev/StructureDefinition/endpoint-ehr-product"
EHR = "https://fhir-sandbox.dev/CodeSystem/ehr-product"
EHR_CODES = ["cerner-millennium", "epic", "lastword"]
EHR_TEXTS = ["Cerner Millennium", "Epic", "LastWord"]
PAYLOAD = "http://hl7.org/fhir/resource-types"
PAYLOAD_CODES = ["Organization", "Endpoint", "CarePlan"]
PAYLOAD_TEXTS = ["FHIR resources", "Any"]

TAG = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TAG_CODES = ["HTEST", "TRAIN"]
TAG_TEXTS = ["test health data"]

PROFILES = [
    "http://example.org/fhir/StructureDefinition/Org",
    "http://example.org/fhir/StructureDefinition/Org/v2",
    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization",
    "http://example.org/base/",
    "http://example.org/fhir",
]
PROFILE_QUERIES = [
    *PROFILES,
    "http://example.org/fhir/",
    "http://example.org/fh",
    "http://example.org",
    "http://example.org/fhir/StructureDefinition",
    "http://example.org/fhir/StructureDefinition/Org/v2/more",
    "http://example.org/base",
    "http://example.org/base/x/y",
    "https://fhir.hl7.org.uk/StructureDefinition",
]
SOURCES = ["https://directory.example.org/feed", "https://directory.example.org/feed/2"]
SOURCE_QUERIES = [*SOURCES, "https://directory.example.org", "https://directory.example.org/f"]
EP_ADDRESSES = ["https://fhir.example.org/r4", "https://fhir.example.org/r4/Patient"]

GENDERS = ["male", "female", "other", "unknown"]
LOC_STATUS = ["active", "suspended", "inactive"]
EP_STATUS = ["active", "off", "error"]

# PractitionerRole.period bounds: partial dates, times with and without offsets
PERIOD_DATES = [
    "2018",
    "2019",
    "2019-06",
    "2019-06-15",
    "2019-12-31",
    "2020-01-01",
    "2020-02-29T10:00:00+01:00",
    "2020-02-29T09:00:00Z",
    "2020-06-15T08:30:00.250Z",
    "2021",
    "2021-03-01T10:00:00Z",
]
DATE_QUERIES = [
    *PERIOD_DATES,
    "2017",
    "2019-01-01",
    "2019-06-14",
    "2019-07",
    "2020",
    "2020-02-29",
    "2020-02-29T09:00Z",
    "2020-02-29T09:30:00+00:00",
    "2020-06-15T08:30:00.250Z",
    "2020-06-15T08:30:00Z",
    "2021-03-01T10:00Z",
    "2022",
]
DATE_PREFIXES = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]

# Location.position: around London, with Oxford and Cambridge further out
POSITIONS = [
    (51.5074, -0.1278),
    (51.5155, -0.0922),
    (51.4613, -0.3037),
    (51.752, -1.2577),
    (52.2053, 0.1218),
    (51.5, -0.12),
]
NEAR_CENTRES = [(51.5074, -0.1278), (51.5, -0.1), (51.75, -1.25), (52.0, 0.0)]
NEAR_DISTANCES = [("", ""), ("0.5", ""), ("1", "km"), ("5", ""), ("10", "km"), ("25", "km")]
NEAR_DISTANCES += [("80", "km"), ("3000", "m"), ("20", "[mi_i]"), ("200", "km")]
