"""ARM resource ids: what the one parser accepts, what each part of an id is, and that equality, hashing and order
ignore case the way ARM does (so one resource is one key, however a caller spelled it)."""

from __future__ import annotations

import pytest

from shared.core.ids import ResourceRef, type_of

SUB = "c0ffee00-0000-4000-8000-00000000d370"
DB = f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.Sql/servers/sql-shop/databases/ordersX"


def test_the_parts_of_an_id():
    ref = ResourceRef.parse(DB)
    assert (ref.subscription_id, ref.resource_group, ref.provider, ref.type, ref.name) == (
        SUB, "rg-shop", "Microsoft.Sql", "microsoft.sql/servers/databases", "ordersX",
    )  # fmt: skip
    assert ref.id == DB and str(ref) == DB


def test_a_trailing_slash_is_not_part_of_the_id():
    assert ResourceRef.parse(DB + "/").id == DB
    assert ResourceRef.parse(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/X").name == "X"


def test_a_name_is_the_whole_last_segment():
    assert ResourceRef.parse(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/my site").name == (
        "my site"
    )


@pytest.mark.parametrize(
    "value",
    [
        f"/subscriptions/{SUB}/resourceGroups/rg",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s/databases",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/../databases/d",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s\n",
        "",
    ],
)
def test_what_is_not_an_arm_resource_id(value):
    with pytest.raises(ValueError) as refused:
        ResourceRef.parse(value)
    assert str(refused.value) == f"not an ARM resource id: {value!r}"
    assert type_of(value) == ""


@pytest.mark.parametrize("value", [None, 42, ["/subscriptions/x"]])
def test_what_is_not_even_text_is_refused_the_same_way(value):
    with pytest.raises(ValueError) as refused:
        ResourceRef.parse(value)
    assert str(refused.value) == f"not an ARM resource id: {str(value)!r}"


def test_the_refusal_quotes_at_most_200_characters_of_the_input():
    with pytest.raises(ValueError) as refused:
        ResourceRef.parse("x" * 300)
    assert str(refused.value) == f"not an ARM resource id: {'x' * 200!r}"


def test_type_of_an_id():
    assert type_of(DB.upper()) == "microsoft.sql/servers/databases"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (DB, DB.lower(), True),
        (DB, DB.upper(), True),
        (DB + "İ", DB + "i̇", True),  # equal once lower-cased, though not once upper-cased
        (DB + "ß", DB + "ss", False),  # equal once upper-cased, though not once lower-cased
        (DB, DB + "2", False),
    ],
)
def test_equality_and_hashing_ignore_case_as_arm_does(a, b, same):
    left, right = ResourceRef(a), ResourceRef(b)
    assert (left == right) is same and (left != right) is not same
    assert len({left, right}) == (1 if same else 2)


def test_a_ref_is_never_equal_to_its_text():
    assert ResourceRef(DB) != DB
    assert ResourceRef(DB) not in {DB: 1}


def test_refs_order_by_their_lower_case_id():
    underscore, letter = ResourceRef(DB[:-1] + "_"), ResourceRef(DB.upper())  # "_" sorts after "X", before "x"
    assert underscore < letter and not letter < underscore
    assert not letter < ResourceRef(DB) and not ResourceRef(DB) < letter
    assert sorted([letter, underscore]) == [underscore, letter]
