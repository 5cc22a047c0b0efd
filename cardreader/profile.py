"""The open DMP card profile: every constant a card and a host must agree on.

docs/card-profile.md is the prose version of this module; keep them in step.
"""

from __future__ import annotations

from enum import StrEnum


class CardKind(StrEnum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"


def _atr(historical: bytes) -> bytes:
    # TS=3B (direct convention); T0 announces TD1 and the historical bytes; TD1=01 offers
    # T=1 only, so pcscd must pick T=1; TCK is the XOR of T0..last historical byte,
    # mandatory as soon as a protocol other than T=0 is indicated (ISO 7816-3 §8.2.5).
    body = bytes([0x80 | len(historical), 0x01]) + historical
    check = 0
    for byte in body:
        check ^= byte
    return b"\x3b" + body + bytes([check])


# Historical bytes: category 80 (compact-TLV), then tag 5 "card issuer's data", 7 bytes.
PATIENT_ATR = _atr(b"\x80\x57DMP-PAT")
PROFESSIONAL_ATR = _atr(b"\x80\x57DMP-PRO")
ATR_KINDS = {PATIENT_ATR: CardKind.PATIENT, PROFESSIONAL_ATR: CardKind.PROFESSIONAL}

# ISO 7816-5 category "F": proprietary, unregistered; "F0" + ASCII name.
PATIENT_AID = b"\xf0DMP-PAT"
PROFESSIONAL_AID = b"\xf0DMP-PRO"
KIND_AIDS = {CardKind.PATIENT: PATIENT_AID, CardKind.PROFESSIONAL: PROFESSIONAL_AID}

# Instructions (ISO 7816-4 interindustry, CLA 00).
CLA = 0x00
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_RESET_RETRY_COUNTER = 0x2C
INS_INTERNAL_AUTHENTICATE = 0x88
INS_GET_RESPONSE = 0xC0

SELECT_BY_DF_NAME = 0x04
SELECT_RETURN_FCI = 0x00
SELECT_NO_RESPONSE = 0x0C
PIN_REFERENCE = 0x81  # specific (application-local) reference data number 1
READ_BINARY_SFI_FLAG = 0x80

# Short file identifiers.
SFI_IDENTITY = 0x01
SFI_CERTIFICATE = 0x02

# FCI returned by SELECT (P2=00).
TAG_FCI = 0x6F
TAG_DF_NAME = 0x84
TAG_FCI_PROPRIETARY = 0xA5
TAG_CARD_SERIAL = 0xC1
TAG_PROFILE_VERSION = 0xC2
PROFILE_VERSION = 1
CARD_SERIAL_LENGTH = 16

# Identity file: one "cardholder related data" template (ISO 7816-6 tag 65).
TAG_IDENTITY = 0x65
TAG_OID = 0x06
# patient card
TAG_BIRTH_NAME = 0x80
TAG_FIRST_NAME = 0x81  # repeated, one per first name, in civil-status order
TAG_BIRTH_DATE = 0x82  # "YYYYMMDD", as observed on Vitale cards
TAG_SEX = 0x83
TAG_BIRTH_RANK = 0x84
TAG_BIRTH_PLACE = 0x85
TAG_USAGE_NAME = 0x86
TAG_INS = 0x93  # the tag observed for the NIR on Vitale cards
# professional card
TAG_LAST_NAME = 0x80
TAG_PRO_FIRST_NAME = 0x81
TAG_NATIONAL_ID = 0x90
TAG_PROFESSION = 0x91
TAG_SPECIALTY = 0x92
TAG_STRUCTURE = 0xA0
TAG_STRUCTURE_ID = 0x80
TAG_STRUCTURE_NAME = 0x81

# PIN rules (professional card).
PIN_LENGTH = 4
PUK_LENGTH = 8
PIN_MAX_TRIES = 3
PUK_MAX_TRIES = 10

# INTERNAL AUTHENTICATE challenge bounds.
CHALLENGE_MIN = 16
CHALLENGE_MAX = 64

# Status words.
SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_NO_CURRENT_EF = 0x6986
SW_CHAINING_UNSUPPORTED = 0x6884
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_REFERENCE_NOT_FOUND = 0x6A88
SW_OFFSET_OUTSIDE = 0x6B00
SW_INS_UNSUPPORTED = 0x6D00
SW_CLA_UNSUPPORTED = 0x6E00
SW_NO_PRECISE_DIAGNOSIS = 0x6F00
SW1_MORE_DATA = 0x61
SW1_WRONG_LE = 0x6C
SW1_COUNTER = 0x63

# Private arc for this project's TEST PKI. 55555 is NOT a registered enterprise number
# of this project: these OIDs mean nothing outside the test PKI and must never reach a
# production certificate.
TEST_ARC = "1.3.6.1.4.1.55555"
EKU_PATIENT_CARD = TEST_ARC + ".1.1"
EKU_PROFESSIONAL_CARD = TEST_ARC + ".1.2"
EKU_KIOSK = TEST_ARC + ".1.3"
EKU_SERVER = TEST_ARC + ".1.4"
# RFC 9336 id-kp-documentSigning: the records server's receipt signer signs documents
# (signed receipts, docs/receipts.md), never TLS; a registered OID, not one of ours.
EKU_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
ATTR_INS_OID = TEST_ARC + ".2.1"  # subject attribute: OID of the INS register
ATTR_STRUCTURE_ID = TEST_ARC + ".2.2"  # subject attribute: FINESS of the structure
KIND_EKUS = {CardKind.PATIENT: EKU_PATIENT_CARD, CardKind.PROFESSIONAL: EKU_PROFESSIONAL_CARD}
# Certificate policies (RFC 5280 §4.2.1.4), one per kind of certificate: a leaf asserts
# its kind's policy, and the CA that issues that kind, and only it, carries the policy in
# its own certificate. A host accepts a kind only from a CA certified for it, so a key
# of one CA of the hierarchy (the kiosk CA, say) cannot mint another kind (a card).
POLICY_PATIENT_CARD = TEST_ARC + ".3.1"
POLICY_PROFESSIONAL_CARD = TEST_ARC + ".3.2"
POLICY_KIOSK = TEST_ARC + ".3.3"
POLICY_SERVER = TEST_ARC + ".3.4"
POLICY_RECEIPT_SIGNER = TEST_ARC + ".3.5"
EKU_POLICIES = {
    EKU_PATIENT_CARD: POLICY_PATIENT_CARD,
    EKU_PROFESSIONAL_CARD: POLICY_PROFESSIONAL_CARD,
    EKU_KIOSK: POLICY_KIOSK,
    EKU_SERVER: POLICY_SERVER,
    EKU_DOCUMENT_SIGNING: POLICY_RECEIPT_SIGNER,
}
