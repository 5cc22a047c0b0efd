"""The profession x category matrix: the shipped data, and strict loading of any file."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.policy import (
    Category,
    Matrix,
    MatrixError,
    ProfessionRules,
    default_matrix_path,
    load_matrix,
)

REQUIRED_PROFESSIONS = {
    "medecin_generaliste",
    "medecin_specialiste",
    "urgentiste",
    "regulateur_samu",
    "pharmacien",
    "infirmier",
    "sage_femme",
    "chirurgien_dentiste",
    "masseur_kinesitherapeute",
    "biologiste",
    "admissions",
    "medecin_travail",
}
PHYSICIANS = ("medecin_generaliste", "medecin_specialiste", "urgentiste")
CLINICAL = frozenset(Category) - {Category.GESTION}

VALID = """
[infirmier]
label_fr = "Infirmier"
label_en = "Nurse"
read = ["compte_rendu", "plan_soins"]
write = ["plan_soins"]
eligible = true
"""


@pytest.fixture(scope="module")
def shipped() -> Matrix:
    return load_matrix(default_matrix_path())


def rules(matrix: Matrix, code: str) -> ProfessionRules:
    found = matrix.rules_for(code)
    assert found is not None, code
    return found


def test_default_path_is_the_repository_config() -> None:
    path = default_matrix_path()
    assert path.parts[-2:] == ("config", "access-matrix.toml")
    assert path.is_file()


def test_shipped_matrix_has_every_required_profession(shipped: Matrix) -> None:
    assert REQUIRED_PROFESSIONS <= set(shipped.professions)
    for code, profession in shipped.professions.items():
        assert profession.code == code
        assert profession.label_fr.strip()
        assert profession.label_en.strip()


def test_every_category_appears_somewhere(shipped: Matrix) -> None:
    used: set[Category] = set()
    for profession in shipped.professions.values():
        used |= profession.read | profession.write
    assert used == set(Category)


def test_physicians_read_every_clinical_category(shipped: Matrix) -> None:
    for code in PHYSICIANS:
        assert rules(shipped, code).read >= CLINICAL, code


def test_admissions_reads_nothing_clinical(shipped: Matrix) -> None:
    desk = rules(shipped, "admissions")
    assert desk.eligible
    assert desk.read == frozenset()
    assert desk.write <= {Category.GESTION}


def test_only_eligible_physicians_may_be_medecin_traitant(shipped: Matrix) -> None:
    # domain.md: the médecin traitant is a physician; the data says who is one.
    may = {code for code, p in shipped.professions.items() if p.may_be_medecin_traitant}
    assert may == {*PHYSICIANS, "regulateur_samu"}
    # An occupational physician is a physician, but excluded from the DMP altogether.
    assert rules(shipped, "medecin_travail").physician
    for code in ("pharmacien", "infirmier", "admissions", "sage_femme", "chirurgien_dentiste"):
        assert not rules(shipped, code).physician, code


def test_occupational_medicine_is_excluded(shipped: Matrix) -> None:
    # Public health law: occupational medicine never accesses the shared record.
    occupational = rules(shipped, "medecin_travail")
    assert not occupational.eligible
    assert occupational.read == occupational.write == frozenset()


def test_only_the_insurer_and_the_patient_write_their_categories(shipped: Matrix) -> None:
    for profession in shipped.professions.values():
        assert Category.REMBOURSEMENT not in profession.write, profession.code
        assert Category.DEPOSE_PATIENT not in profession.write, profession.code


@pytest.mark.parametrize(
    ("code", "reads", "writes"),
    [
        ("pharmacien", Category.PRESCRIPTION, Category.DISPENSATION),
        ("biologiste", Category.PRESCRIPTION, Category.COMPTE_RENDU),
        ("masseur_kinesitherapeute", Category.IMAGERIE, Category.PLAN_SOINS),
        ("regulateur_samu", Category.TRAITEMENT_ADMINISTRE, Category.COMPTE_RENDU),
    ],
)
def test_profession_spot_checks(
    shipped: Matrix, code: str, reads: Category, writes: Category
) -> None:
    profession = rules(shipped, code)
    assert reads in profession.read
    assert writes in profession.write


def test_unknown_profession_has_no_rules(shipped: Matrix) -> None:
    assert shipped.rules_for("osteopathe") is None
    assert shipped.rules_for(None) is None


def test_matrix_cannot_be_changed_at_run_time(shipped: Matrix) -> None:
    with pytest.raises(TypeError):
        shipped.professions["osteopathe"] = rules(shipped, "infirmier")  # type: ignore[index]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_a_valid_file(tmp_path: Path) -> None:
    matrix = load_matrix(write(tmp_path, VALID))
    nurse = rules(matrix, "infirmier")
    assert nurse == ProfessionRules(
        code="infirmier",
        label_fr="Infirmier",
        label_en="Nurse",
        read=frozenset({Category.COMPTE_RENDU, Category.PLAN_SOINS}),
        write=frozenset({Category.PLAN_SOINS}),
        eligible=True,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            VALID.replace('"plan_soins"]\nwrite', '"radiographie"]\nwrite'),
            "[infirmier]: key 'read': unknown category 'radiographie'",
        ),
        (
            VALID.replace('write = ["plan_soins"]', 'write = ["Plan_Soins"]'),
            "key 'write': unknown category 'Plan_Soins'",
        ),
        (VALID + 'readonly = ["synthese"]\n', "[infirmier]: unknown key 'readonly'"),
        (VALID.replace('label_en = "Nurse"\n', ""), "[infirmier]: missing key 'label_en'"),
        (VALID.replace("eligible = true", 'eligible = "yes"'), "'eligible' must be true or false"),
        (VALID + "physician = 1\n", "'physician' must be true or false"),
        (VALID.replace('label_fr = "Infirmier"', "label_fr = 3"), "'label_fr' must be a non-empty"),
        (VALID.replace('label_fr = "Infirmier"', 'label_fr = " "'), "'label_fr' must be a non"),
        (
            VALID.replace('write = ["plan_soins"]', 'write = "plan_soins"'),
            "key 'write' must be a list",
        ),
        (VALID.replace('write = ["plan_soins"]', "write = [1]"), "unknown category 1"),
        (
            VALID.replace('write = ["plan_soins"]', 'write = ["plan_soins", "plan_soins"]'),
            "category 'plan_soins' listed twice",
        ),
        (
            VALID.replace("eligible = true", "eligible = false"),
            "an ineligible profession cannot read or write",
        ),
        ("version = 2\n" + VALID, "unknown top-level key 'version'"),
        (VALID.replace("[infirmier]", "[Infirmier]"), "lower_snake_case"),
        ("", "no profession defined"),
        ("[infirmier\n", "not valid TOML"),
    ],
    ids=[
        "unknown_read_category",
        "category_is_case_sensitive",
        "unknown_key",
        "missing_key",
        "eligible_not_bool",
        "physician_not_bool",
        "label_not_string",
        "label_blank",
        "categories_not_list",
        "category_not_string",
        "duplicate_category",
        "ineligible_with_categories",
        "top_level_value",
        "bad_profession_code",
        "empty_file",
        "not_toml",
    ],
)
def test_rejects_invalid_files(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MatrixError) as caught:
        load_matrix(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_physician_is_read_and_defaults_to_false(tmp_path: Path) -> None:
    assert not rules(load_matrix(write(tmp_path, VALID)), "infirmier").physician
    doctor = load_matrix(write(tmp_path, VALID + "physician = true\n"))
    assert rules(doctor, "infirmier").may_be_medecin_traitant


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "access-matrix.toml"
    with pytest.raises(MatrixError, match="access matrix file not found") as caught:
        load_matrix(path)
    assert str(path) in str(caught.value)


def test_the_matrix_names_the_eligible_professions_and_the_physicians() -> None:
    matrix = load_matrix(default_matrix_path())
    assert matrix.eligible() == {c for c, r in matrix.professions.items() if r.eligible}
    assert "medecin_travail" not in matrix.eligible()
    assert matrix.may_be_medecin_traitant() <= matrix.eligible()
    assert "medecin_generaliste" in matrix.may_be_medecin_traitant()
    assert "pharmacien" not in matrix.may_be_medecin_traitant()
