"""Code systems and code tables used by the synthetic directory.

Kept in one place so the search layer, the seed data and the generator agree on spelling:
a misspelt system URL silently breaks ``identifier=`` and ``type=`` searches. Systems are
the ones listed in DOMAIN.md section 2 and DESIGN.md section 7; displays are copied from
the R4 code systems in ``shared/fhir-r4/terminology`` (SNOMED ones from the
c80-practice-codes value set) so clients that compare displays see official text.
"""

from __future__ import annotations

from typing import Final

# --- identifier systems --------------------------------------------------------------
ODS_ORG: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE: Final = "https://fhir.nhs.uk/Id/ods-site-code"
GMC: Final = "https://fhir.hl7.org.uk/Id/gmc-number"
NMC: Final = "https://fhir.hl7.org.uk/Id/nmc-number"
GPHC: Final = "https://fhir.hl7.org.uk/Id/gphc-number"
SDS_USER: Final = "https://fhir.nhs.uk/Id/sds-user-id"
EHR_INSTANCE: Final = "https://fhir-sandbox.dev/Id/ehr-instance"

# --- code systems ----------------------------------------------------------------------
ODS_ROLE: Final = (
    "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
)
ORG_TYPE: Final = "http://terminology.hl7.org/CodeSystem/organization-type"
# THO canonical (the R4 CodeSystem resource still says http://hl7.org/fhir/organization-role;
# the R4 example OrganizationAffiliation-example uses this one; binding strength is example).
ORG_ROLE: Final = "http://terminology.hl7.org/CodeSystem/organization-role"
PRACTITIONER_ROLE: Final = "http://terminology.hl7.org/CodeSystem/practitioner-role"
SNOMED: Final = "http://snomed.info/sct"
ROLE_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PHYSICAL_TYPE: Final = "http://terminology.hl7.org/CodeSystem/location-physical-type"
SERVICE_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/service-category"
DEGREE: Final = "http://terminology.hl7.org/CodeSystem/v2-0360/2.7"
CONNECTION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
PAYLOAD_TYPE: Final = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

# --- extensions (ours are documented in DESIGN.md section 7) ------------------------
FHIR_VERSION_EXT: Final = "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version"
EHR_PRODUCT_EXT: Final = "https://fhir-sandbox.dev/StructureDefinition/endpoint-ehr-product"
EHR_PRODUCT: Final = "https://fhir-sandbox.dev/CodeSystem/ehr-product"

# --- code tables: code -> display ----------------------------------------------------
ODS_ROLES: Final = {
    "RO197": "NHS TRUST",
    "RO57": "FOUNDATION TRUST",
    "RO172": "INDEPENDENT SECTOR HEALTHCARE PROVIDER",
    "RO76": "GP PRACTICE",
    "RO182": "PHARMACY",
}

EHR_PRODUCTS: Final = {
    "cerner-millennium": "Cerner Millennium",
    "epic": "Epic",
    "emis-web": "EMIS Web",
    "systmone": "SystmOne",
    "lastword": "LastWord",
    "other": "Other",
}

# (code, display) from the R4 c80-practice-codes value set.
SPECIALTIES: Final = {
    "general-practice": ("394814009", "General practice"),
    "general-medicine": ("394802001", "General medicine"),
    "cardiology": ("394579002", "Cardiology"),
    "emergency": ("394576009", "Surgical-Accident & emergency"),
    "general-surgery": ("394609007", "Surgery-general"),
    "orthopaedics": ("394801008", "Surgery-Trauma and orthopedics"),
    "obstetrics": ("394585009", "Obstetrics and gynecology"),
    "oncology": ("394592004", "Clinical oncology"),
    "geriatrics": ("394811001", "Geriatric medicine"),
    "neurology": ("394591006", "Neurology"),
    "radiology": ("394914008", "Radiology"),
    "anaesthetics": ("394577000", "Anesthetics"),
    "critical-care": ("408478003", "Critical care medicine"),
    "ophthalmology": ("394594003", "Ophthalmology"),
    "dermatology": ("394582007", "Dermatology"),
    "psychiatry": ("394587001", "Psychiatry"),
    "rehabilitation": ("394602003", "Rehabilitation"),
}

HOSPITAL_SPECIALTIES: Final = (
    "general-medicine",
    "cardiology",
    "emergency",
    "general-surgery",
    "orthopaedics",
    "obstetrics",
    "oncology",
    "geriatrics",
    "neurology",
    "radiology",
    "anaesthetics",
    "critical-care",
)

# service-category code -> display (THO service-category, as in the R4 value set).
SERVICE_CATEGORIES: Final = {
    "7": "Community Health Care",
    "14": "Emergency Department",
    "17": "General Practice",
    "22": "Mental Health",
    "27": "Specialist Medical",
    "28": "Specialist Obstetrics & Gynecology",
    "30": "Specialist Radiology/Imaging",
    "31": "Specialist Surgical",
    "34": "Allied Health",
    "35": "Hospital",
}

ROLE_DISPLAYS: Final = {"doctor": "Doctor", "nurse": "Nurse", "pharmacist": "Pharmacist"}

LOCATION_TYPES: Final = {
    "HOSP": "Hospital",
    "PC": "primary care clinic",
    "PHARM": "Pharmacy",
    "OF": "outpatient facility",
}
