"""Compile-time expressions, one test per documented rule of Microsoft's Expressions doc
(learn.microsoft.com/azure/devops/pipelines/process/expressions): type casting, each function,
and how a value the checker cannot know offline flows through them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline_checker.compile.expressions import Scope, Variables, evaluate, render
from pipeline_checker.compile.values import (
    ExpressionError,
    Unknown,
    Version,
    compare,
    equals,
    to_bool,
    try_number,
    try_string,
)

UNKNOWN_BRANCH = Unknown("Build.SourceBranch is known only at run time")


def value(text: str, **parameters):
    return evaluate(text, Scope(parameters=parameters, variables=Variables({"letters": "ABC", "empty": ""})))


# -- type casting ("Type casting" section) -------------------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [
    (None, False),  # null -> False
    (0, False), (Decimal("-1.5"), True),  # number: 0 -> False, any other -> True
    ("", False), ("false", True), ("0", True),  # string: '' -> False, any other string -> True
    (Version((1, 2)), True), ([], True), ({}, True),  # version, array, object -> True
])
def test_to_boolean(given, expected):
    assert to_bool(given) is expected


@pytest.mark.parametrize(("given", "expected"), [
    (False, 0), (True, 1), (None, 0), ("", 0),
    (" 1,000.50 ", Decimal("1000.50")),  # leading/trailing white, thousands, decimal point
    ("-3", -3), ("abc", None), ("1e3", None), (Version((1, 2)), None), ([], None),
])
def test_to_number(given, expected):
    assert try_number(given) == expected if expected is not None else try_number(given) is None


@pytest.mark.parametrize(("given", "expected"), [
    (False, "False"), (True, "True"), (None, ""), (Decimal("1.50"), "1.5"), (Decimal("0.12345678"), "0.1234568"),
    (3, "3"), (Version((1, 2, 3)), "1.2.3"), ([], None), ({}, None),
])
def test_to_string(given, expected):
    assert try_string(given) == expected


@pytest.mark.parametrize(("left", "right", "expected"), [
    (1, "1", True),  # FA18: the right is converted to a number
    (Decimal(1), "1.0", True),
    ("1", 1, True),  # to a string: '1'
    (1, "one", False),  # conversion fails: False
    (False, "false", False),  # FA19: 'false' is a non-empty string, so True
    (True, "false", True),
    (True, "", False),
    ("ABC", "abc", True),  # ordinal ignore-case
    (Version((1, 2, 3)), "1.2.3", True),
    (Version((1, 2, 3)), "1.2", False),
    (None, "", True), (None, "x", False),
    ("True", True, True),  # True -> 'True'
])
def test_eq_converts_the_right_value_to_the_left_ones_kind(left, right, expected):
    assert equals(left, right) is expected


def test_eq_of_two_objects_is_identity():
    obj = {"a": 1}
    assert equals(obj, obj) and not equals(obj, {"a": 1})


@pytest.mark.parametrize(("left", "right", "expected"), [
    (False, True, -1),  # the doc's lt(False, True): 0 vs. 1
    (5, "2", 1), ("b", "A", 1), (Version((1, 10)), "1.9", 1), (None, 0, 0),
])
def test_comparisons_convert_the_right_value_to_the_left_ones_kind(left, right, expected):
    assert compare(left, right) == expected


def test_a_comparison_whose_conversion_fails_is_an_error():
    with pytest.raises(ExpressionError, match="cannot convert string 'abc' to a number"):
        compare(5, "abc")
    with pytest.raises(ExpressionError):
        value("gt(5, 'abc')")


# -- functions -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("expression", "expected"), [
    ("and(eq(variables.letters, 'ABC'), eq(1, 1), true)", True),
    ("and(true, '')", False),
    ("or(eq(1, 1), eq(2, 3))", True),
    ("not(eq(1, 2))", True),
    ("xor(True, False)", True),
    ("ne(1, 2)", True),
    ("ne(1, 'one')", True),  # conversion fails: ne is True
    ("in('B', 'A', 'B', 'C')", True),
    ("in(1, 'x', '1')", True),
    ("notIn('D', 'A', 'B', 'C')", True),
    ("contains('ABCDE', 'bcd')", True),
    ("startsWith('ABCDE', 'ab')", True),
    ("endsWith('ABCDE', 'de')", True),
    ("containsValue(parameters.list, 2)", True),
    ("containsValue(parameters.obj, 'b')", True),
    ("coalesce(variables.empty, '', 'literal value')", "literal value"),
    ("format('Hello {0} {1}', 'John', 'Doe')", "Hello John Doe"),
    ("format('literal left brace {{ and literal right brace }}')", "literal left brace { and literal right brace }"),
    ("join(';', parameters.list)", "1;2;3"),
    ("join(';', 'single')", "single"),
    ("length('fabrikam')", 8),
    ("length(parameters.list)", 3),
    ("lower('FOO')", "foo"),
    ("upper('bah')", "BAH"),
    ("replace('https://www.tinfoilsecurity.com/saml/consume', 'https://www.tinfoilsecurity.com', 'http://server')",
     "http://server/saml/consume"),
    ("split('prod1,prod2', ',')", ["prod1", "prod2"]),
    ("replace(split('/subscriptions/s/resourceGroups/rg/providers/x/lb/kubernetes-internal', '/')[8], '-', '_')",
     "kubernetes_internal"),
    ("trim('  x ')", "x"),
    ("iif(eq(1, 1), 'yes', 'no')", "yes"),
    ("convertToJson(parameters.obj)", '{\n  "a": "b"\n}'),
    ("parameters.items.*.id", [1, 2]),
    ("parameters.obj['A']", "b"),  # property names are case-insensitive
    ("parameters.list[5]", None),  # a miss is null
    ("1.2.3", Version((1, 2, 3))),
    ("-1.2", Decimal("-1.2")),
    ("'It''s OK'", "It's OK"),
    ("TRUE", True),
])
def test_each_documented_function(expression, expected):
    parameters = {"list": [1, 2, 3], "obj": {"a": "b"}, "items": [{"id": 1}, {"id": 2}]}
    assert value(expression, **parameters) == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("eq(1)", "eq() takes 2 arguments, got 1"),
    ("not(1, 2)", "not() takes 1 arguments, got 2"),
    ("nope(1)", "unrecognized function `nope`"),
    ("eq(1, 2", "cannot read"),
    ("length(1)", "length() takes a string, array or object, not a number"),
    ("format('{1}', 'a')", "uses {1} but has 1 arguments"),
])
def test_what_azure_devops_refuses_is_an_expression_error(expression, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{")
                       .replace("}", r"\}")):
        value(expression)


def test_render_refuses_an_object_in_a_string():
    with pytest.raises(ExpressionError, match="object or array cannot be inserted"):
        render({"a": 1})
    assert render(True) == "True" and render(None) == "" and render(Decimal("2.50")) == "2.5"


# -- unknown values ------------------------------------------------------------------------------
def test_a_predefined_variable_is_unknown_and_so_is_what_depends_on_it():
    result = value("eq(variables['Build.SourceBranch'], 'refs/heads/main')")
    assert isinstance(result, Unknown) and result.candidates == (True, False)
    assert "Build.SourceBranch" in result.reason


def test_short_circuits_decide_without_the_unknown():
    assert value("and(false, eq(variables['Build.Reason'], 'PullRequest'))") is False
    assert value("or(true, eq(variables['Build.Reason'], 'PullRequest'))") is True
    assert value("coalesce('x', variables['Build.Reason'])") == "x"


def test_finite_candidates_are_evaluated_each():
    environment = Unknown("runtime parameter", ("dev", "prod"))
    assert value("in(parameters.env, 'dev', 'prod')", env=environment) is True
    assert value("eq(parameters.env, 'test')", env=environment) is False
    both = value("eq(parameters.env, 'prod')", env=environment)
    assert isinstance(both, Unknown) and set(both.candidates) == {True, False}
    assert value("iif(parameters.flag, 'a', 'a')", flag=Unknown("boolean", (True, False))) == "a"


def test_runtime_only_functions_are_unknown_at_compile_time():
    assert isinstance(value("succeeded()"), Unknown)
    assert isinstance(value("counter('x', 1)"), Unknown)


def test_an_undeclared_parameter_is_null_with_a_note():
    scope = Scope(parameters={"known": 1})
    assert evaluate("parameters.unknown", scope) is None
    assert scope.notes == ["parameters.unknown is not declared here, so it is empty (declared: known)"]


def test_a_variable_the_yaml_defines_is_known_at_compile_time():
    scope = Scope(variables=Variables({"Stage": "prod"}))
    assert evaluate("variables.stage", scope) == "prod"
    assert evaluate("variables['STAGE']", scope) == "prod"
    assert isinstance(evaluate("variables.other", scope), Unknown)
    assert render(UNKNOWN_BRANCH) == "<?>"
