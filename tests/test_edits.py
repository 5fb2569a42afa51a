"""Structured file edits (``prplan.edits``): exact bytes, one-line diffs,
every error with its reason.

Golden files: ``tests/golden/edits/<name>.yaml`` are inputs written in the
style of real Helm charts; ``<name>.<case>.expected.yaml`` are the outputs.
Regenerate them with ``UPDATE_GOLDEN=1`` and read the diff before keeping
them: each case also states the exact lines it expects to change, so a
regenerated golden that changes more than that still fails.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from prplan.edits import (
    Edit,
    EditError,
    JsonDelete,
    JsonSet,
    Replace,
    Select,
    YamlDelete,
    YamlSet,
    apply_edits,
    edit_file,
    edit_problems,
    encodable,
    format_path,
    kind,
    parse_path,
)
from prplan.errors import InvalidRequestError, Problem, RepositoryDisagreesError

GOLDEN = Path(__file__).parent / "golden" / "edits"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SOURCES = ("webapp", "worker", "platform")


def source(name: str) -> bytes:
    return (GOLDEN / f"{name}.yaml").read_bytes()


def changed(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The lines removed and the lines added, by difflib. Split on "\\n"
    only: the edits never write a raw line separator of another kind."""
    old, new = before.decode().split("\n"), after.decode().split("\n")
    removed: list[str] = []
    added: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def load(text: bytes | str) -> Any:
    return YAML(typ="rt").load(text.decode() if isinstance(text, bytes) else text)


def at(data: Any, path: str) -> Any:
    for key in parse_path(path):
        data = data[key]
    return data


def yaml_apply(text: str, *edits: Edit) -> str:
    return apply_edits(text.encode(), list(edits), filename="values.yaml").decode()


def json_apply(text: str, *edits: Edit) -> str:
    return apply_edits(text.encode(), list(edits), filename="config.json").decode()


# --- golden files --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Case:
    source: str
    name: str
    edits: list[Edit]
    removed: list[str]
    added: list[str]
    #: what a path reads as afterwards, where it is not the edit's value (typed as written)
    reads: dict[str, object] = attrs.field(factory=dict)

    @property
    def expected_path(self) -> Path:
        return GOLDEN / f"{self.source}.{self.name}.expected.yaml"


CASES = [
    # webapp.yaml: two-space indentation, sequences indented under their key,
    # double quotes where needed, comments everywhere.
    Case(
        source="webapp",
        name="image-tag",
        edits=[YamlSet(path="image.tag", value="1.4.2")],
        removed=['  tag: "1.4.1"'],
        added=['  tag: "1.4.2"'],
    ),
    Case(
        source="webapp",
        name="env-value",
        edits=[YamlSet(path="env[1].value", value="checkout-v2,search-v3,wishlist")],
        removed=['    value: "checkout-v2,search-v3"   # comma-separated'],
        added=['    value: "checkout-v2,search-v3,wishlist"   # comma-separated'],
    ),
    Case(
        source="webapp",
        name="annotation",
        edits=[
            YamlSet(
                path='ingress.annotations."nginx.ingress.kubernetes.io/proxy-body-size"',
                value="16m",
            )
        ],
        removed=['    nginx.ingress.kubernetes.io/proxy-body-size: "8m"'],
        added=['    nginx.ingress.kubernetes.io/proxy-body-size: "16m"'],
    ),
    Case(
        source="webapp",
        name="single-quoted-annotation",
        edits=[
            YamlSet(
                path='ingress.annotations."nginx.ingress.kubernetes.io/ssl-redirect"',
                value="false",
            )
        ],
        removed=["    nginx.ingress.kubernetes.io/ssl-redirect: 'true'"],
        added=["    nginx.ingress.kubernetes.io/ssl-redirect: 'false'"],
    ),
    Case(
        source="webapp",
        name="replica-count",
        edits=[YamlSet(path="replicaCount", value=3)],
        removed=["replicaCount: 2"],
        added=["replicaCount: 3"],
    ),
    Case(
        source="webapp",
        name="add-key",
        edits=[YamlSet(path="image.digest", value="sha256:9f86d081884c7d65")],
        removed=[],
        added=["  digest: sha256:9f86d081884c7d65"],
    ),
    Case(
        source="webapp",
        name="add-block",
        edits=[
            YamlSet(
                path="podLabels",
                value={"app.kubernetes.io/component": "frontend", "tier": "web"},
            )
        ],
        removed=[],
        added=["podLabels:", "  app.kubernetes.io/component: frontend", "  tier: web"],
    ),
    Case(
        source="webapp",
        name="add-to-empty-mapping",
        edits=[
            YamlSet(
                path='serviceAccount.annotations."eks.amazonaws.com/role-arn"',
                value="arn:aws:iam::123456789012:role/webapp",
            )
        ],
        removed=["  annotations: {}"],
        added=[
            "  annotations:",
            "    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/webapp",
        ],
    ),
    Case(
        source="webapp",
        name="set-block",
        edits=[
            YamlSet(
                path="resources",
                value={
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                },
            )
        ],
        removed=["resources: {}"],
        added=[
            "resources:",
            "  limits:",
            "    cpu: 500m",
            "    memory: 256Mi",
            "  requests:",
            "    cpu: 100m",
            "    memory: 128Mi",
        ],
    ),
    Case(
        source="webapp",
        name="delete-key",
        edits=[YamlDelete(path="autoscaling.targetCPUUtilizationPercentage")],
        removed=["  targetCPUUtilizationPercentage: 80"],
        added=[],
    ),
    Case(
        source="webapp",
        name="delete-item",
        edits=[YamlDelete(path="env[2]")],
        removed=["  - name: CACHE_TTL_SECONDS", '    value: "300"'],
        added=[],
    ),
    Case(
        source="webapp",
        name="release",
        edits=[
            YamlSet(path="image.tag", value="1.5.0"),
            YamlSet(path="env[0].value", value="debug"),
            YamlSet(path="replicaCount", value=4),
        ],
        removed=["replicaCount: 2", '  tag: "1.4.1"', "    value: info"],
        added=["replicaCount: 4", '  tag: "1.5.0"', "    value: debug"],
    ),
    # worker.yaml: sequences at their key's column, single quotes by house
    # style, a literal block scalar.
    Case(
        source="worker",
        name="image-tag",
        edits=[YamlSet(path="image.tag", value="v2.8.0")],
        removed=["  tag: 'v2.7.0'"],
        added=["  tag: 'v2.8.0'"],
    ),
    Case(
        source="worker",
        name="env-value",
        edits=[YamlSet(path="env[1].value", value="16")],
        removed=["  value: '8'"],
        added=["  value: '16'"],
    ),
    Case(
        source="worker",
        name="annotation",
        edits=[
            YamlSet(path="podAnnotations.'vault.hashicorp.com/role'", value="billing-worker-v2")
        ],
        removed=["  'vault.hashicorp.com/role': 'billing-worker'"],
        added=["  'vault.hashicorp.com/role': 'billing-worker-v2'"],
    ),
    Case(
        source="worker",
        name="replica-count",
        edits=[YamlSet(path="replicaCount", value=4)],
        removed=["replicaCount: 3  # one per partition"],
        added=["replicaCount: 4  # one per partition"],
    ),
    Case(
        source="worker",
        name="add-key",
        edits=[YamlSet(path="image.pullPolicy", value="Always")],
        removed=[],
        added=["  pullPolicy: 'Always'"],  # quoted like its neighbours
    ),
    Case(
        source="worker",
        name="add-quoted-key",
        edits=[
            YamlSet(
                path="podAnnotations.'vault.hashicorp.com/agent-inject-secret-db'",
                value="database/creds/billing",
            )
        ],
        removed=[],
        added=["  'vault.hashicorp.com/agent-inject-secret-db': 'database/creds/billing'"],
    ),
    Case(
        source="worker",
        name="delete-key",
        edits=[YamlDelete(path="image.digest")],
        removed=["  digest: ''"],
        added=[],
    ),
    Case(
        source="worker",
        name="delete-item",
        edits=[YamlDelete(path="env[2]")],
        removed=["- name: 'DRY_RUN'", "  value: 'false'"],
        added=[],
    ),
    Case(
        source="worker",
        name="literal-block",
        edits=[YamlSet(path="config", value="retries: 5\nbackoff: exponential\nmaxDelay: 30s\n")],
        removed=[],
        added=["  maxDelay: 30s"],
    ),
    # platform.yaml: four-space indentation, sequences with a four-space
    # offset, double-quoted keys, plain versions.
    Case(
        source="platform",
        name="image-tag",
        edits=[YamlSet(path="api.image.tag", value="3.13.0")],
        removed=["        tag: 3.12.0"],
        added=["        tag: 3.13.0"],
    ),
    Case(
        source="platform",
        name="version-needs-quotes",
        edits=[YamlSet(path="api.image.tag", value="3.13")],
        removed=["        tag: 3.12.0"],
        added=['        tag: "3.13"'],  # plain 3.13 would read back as a float
    ),
    Case(
        source="platform",
        name="env-value",
        edits=[
            YamlSet(
                path="api.extraEnv[0].value", value="postgres://api@postgresql-primary:5432/api"
            )
        ],
        removed=["            value: postgres://api@postgresql:5432/api"],
        added=["            value: postgres://api@postgresql-primary:5432/api"],
    ),
    Case(
        source="platform",
        name="annotation",
        edits=[
            YamlSet(
                path='api.service.annotations."service.beta.kubernetes.io/aws-load-balancer-internal"',
                value="false",
            )
        ],
        removed=['            "service.beta.kubernetes.io/aws-load-balancer-internal": "true"'],
        added=['            "service.beta.kubernetes.io/aws-load-balancer-internal": "false"'],
    ),
    Case(
        source="platform",
        name="replica-count",
        edits=[YamlSet(path="api.replicaCount", value=3)],
        removed=["    replicaCount: 2"],
        added=["    replicaCount: 3"],
    ),
    Case(
        source="platform",
        name="toggle",
        edits=[YamlSet(path="redis.enabled", value=True)],
        removed=["    enabled: false      # managed Redis in production"],
        added=["    enabled: true      # managed Redis in production"],
    ),
    Case(
        source="platform",
        name="add-key",
        edits=[YamlSet(path="postgresql.primary.persistence.storageClass", value="gp3")],
        removed=[],
        added=["            storageClass: gp3"],
    ),
    Case(
        source="platform",
        name="add-block",
        edits=[
            YamlSet(path="redis.auth", value={"enabled": True, "existingSecret": "platform-redis"})
        ],
        removed=[],
        added=["    auth:", "        enabled: true", "        existingSecret: platform-redis"],
    ),
    Case(
        source="platform",
        name="delete-key",
        edits=[YamlDelete(path="postgresql.auth.existingSecret")],
        removed=["        existingSecret: platform-postgresql"],
        added=[],
    ),
]


# Type-keeping (issue 10): the deployment team's tag bump, as --set gives it.
CASES.append(
    Case(
        source="webapp",
        name="tag-as-written",
        edits=[YamlSet(path="image.tag", value="1.10", as_written=True)],
        removed=['  tag: "1.4.1"'],
        added=['  tag: "1.10"'],
    )
)

# YAML 1.1 readers (Helm's): a string stays one for them, a boolean word on a
# boolean is that boolean (review of issue 10).
CASES.append(
    Case(
        source="webapp",
        name="yaml11-words",
        edits=[
            YamlSet(path="ingress.className", value="on", as_written=True),
            YamlSet(path="ingress.enabled", value="no", as_written=True),
        ],
        removed=["  enabled: true", "  className: nginx"],
        added=["  enabled: false", '  className: "on"'],
        reads={"ingress.enabled": False},
    )
)

#: JSON golden cases: (name, edits, lines removed, lines added) on settings.json,
#: whose numbers and escapes a re-serialisation would rewrite.
JSON_CASES = [
    ("tag-as-written", [JsonSet(path="image.tag", value="1.10", as_written=True)],
     ['    "tag": "1.9"'], ['    "tag": "1.10"']),
    ("fill-empty-object", [JsonSet(path="limits.cpu", value="1")],
     ['  "limits": {},'], ['  "limits": {', '    "cpu": "1"', "  },"]),
    ("empty-an-object", [JsonDelete(path="features.only")],
     ['  "features": {"only": true},'], ['  "features": {},']),
    ("add-inline", [JsonSet(path="features.new", value=1)],
     ['  "features": {"only": true},'], ['  "features": {"only": true, "new": 1},']),
    ("number-as-written", [JsonSet(path="ratio", value="2.50", as_written=True)],
     ['  "ratio": 1.50,'], ['  "ratio": 2.50,']),
]  # fmt: skip


@pytest.mark.parametrize(("name", "edits", "removed", "added"), JSON_CASES, ids=lambda c: c if isinstance(c, str) else "")  # fmt: skip
def test_json_golden(name: str, edits: list[Edit], removed: list[str], added: list[str]) -> None:
    before = (GOLDEN / "settings.json").read_bytes()
    after = apply_edits(before, edits, filename="settings.json")
    expected = GOLDEN / f"settings.{name}.expected.json"
    if UPDATE:
        expected.write_bytes(after)
    assert after == expected.read_bytes()
    assert changed(before, after) == (removed, added)
    json.loads(after)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.source}.{c.name}")
def test_golden(case: Case) -> None:
    before = source(case.source)
    after = apply_edits(before, case.edits, filename=f"{case.source}.yaml")
    if UPDATE:
        case.expected_path.write_bytes(after)
    assert after == case.expected_path.read_bytes()
    assert changed(before, after) == (case.removed, case.added)
    # The result says what was asked, and parses.
    data = load(after)
    for edit in case.edits:
        if isinstance(edit, YamlSet):
            assert at(data, edit.path) == case.reads.get(edit.path, edit.value)


def test_every_golden_file_belongs_to_a_case() -> None:
    known = {case.expected_path.name for case in CASES}
    known |= {f"settings.{case[0]}.expected.json" for case in JSON_CASES}
    on_disk = {path.name for path in GOLDEN.glob("*.expected.*")}
    assert on_disk == known


@pytest.mark.parametrize("name", SOURCES)
def test_a_scalar_set_is_a_one_line_diff_everywhere(name: str) -> None:
    """Every scalar leaf of every golden file, set to a new value of its own
    type: exactly its own line changes."""
    before = source(name)
    for path, value in leaves(load(before)):
        new: object
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, int | float):
            new = builtin(value) + 1
        elif isinstance(value, str) and "\n" not in value:
            new = str(value) + "x"
        else:
            continue  # containers, and the literal block (tested on its own)
        after = apply_edits(before, [YamlSet(path=path, value=new)], filename=f"{name}.yaml")
        removed, added = changed(before, after)
        assert (len(removed), len(added)) == (1, 1), path
        assert at(load(after), path) == new


# --- idempotence -----------------------------------------------------------------


def leaves(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str, Any]]:
    """Every path in a document (containers too) with its value."""
    out: list[tuple[str, Any]] = []
    if prefix:
        out.append((format_path(prefix), data))
    if isinstance(data, dict):
        for key, value in data.items():
            out += leaves(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += leaves(value, (*prefix, index))
    return out


def builtin(value: Any) -> Any:
    """ruamel's scalar and container types as plain Python values."""
    if isinstance(value, dict):
        return {str(k): builtin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [builtin(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind_of in (int, float, str):
        if isinstance(value, kind_of):
            return kind_of(value)
    return value


@pytest.mark.parametrize("name", SOURCES)
def test_setting_every_value_already_there_returns_identical_bytes(name: str) -> None:
    before = source(name)
    paths = leaves(load(before))
    assert len(paths) > 30
    for path, value in paths:
        after = apply_edits(before, [YamlSet(path=path, value=builtin(value))], filename=name)
        assert after == before, path


SET_CASES = [c for c in CASES if not any(isinstance(e, YamlDelete) for e in c.edits)]


@pytest.mark.parametrize("case", SET_CASES, ids=lambda c: f"{c.source}.{c.name}")
def test_applying_twice_equals_applying_once(case: Case) -> None:
    # (A second delete would find nothing to delete: an error, tested below.)
    once = apply_edits(source(case.source), case.edits, filename="values.yaml")
    assert apply_edits(once, case.edits, filename="values.yaml") == once


def test_json_set_to_the_same_value_returns_identical_bytes() -> None:
    odd = '{ "a" :1,\n   "b": [1,2 ] , "c": {"d": "\\u00e9"}}'
    for path, value in [("a", 1), ("b", [1, 2]), ("c.d", "é"), ("c", {"d": "é"})]:
        assert json_apply(odd, JsonSet(path=path, value=value)) == odd


# --- Hypothesis: random scalars on the golden files ----------------------------

SCALAR_TARGETS = [
    ("webapp", "image.tag"),
    ("webapp", "replicaCount"),
    ("webapp", "env[1].value"),
    ("webapp", 'podAnnotations."prometheus.io/port"'),
    ("webapp", 'ingress.annotations."nginx.ingress.kubernetes.io/ssl-redirect"'),
    ("webapp", "ingress.hosts[0].paths[0].path"),
    ("worker", "image.tag"),
    ("worker", "replicaCount"),
    ("worker", "env[2].value"),
    ("worker", "image.digest"),
    ("platform", "api.image.tag"),
    ("platform", "redis.enabled"),
    ("platform", 'api.service.annotations."external-dns.alpha.kubernetes.io/hostname"'),
]

one_line_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=30
)
scalars = st.one_of(one_line_text, st.integers(), st.booleans())


def same_typed(a: object, b: object) -> bool:
    return type(builtin(a)) is type(b) and builtin(a) == b


@given(target=st.sampled_from(SCALAR_TARGETS), value=scalars)
def test_any_scalar_set_reads_back_and_changes_only_its_line(
    target: tuple[str, str], value: object
) -> None:
    name, path = target
    before = source(name)
    after = apply_edits(before, [YamlSet(path=path, value=value)], filename=f"{name}.yaml")
    assert same_typed(at(load(after), path), value)
    old_lines, new_lines = before.decode().split("\n"), after.decode().split("\n")
    assert len(new_lines) == len(old_lines)
    differing = [i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b]
    assert len(differing) <= 1
    # And the rest of that line (the key, a trailing comment) is intact.
    if differing:
        old, new = old_lines[differing[0]], new_lines[differing[0]]
        key_part = old.split(":")[0]
        assert new.startswith(key_part)
        if "#" in old and old.split("#")[0].rstrip().endswith(("'", '"')):
            assert new.endswith(old[old.index("#") :])


@given(
    key=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"),
        max_size=20,
    ),
    value=scalars,
)
def test_any_new_key_is_one_added_line(key: str, value: object) -> None:
    before = source("webapp")
    assume(key not in load(before)["image"])
    path = format_path(["image", key])
    after = apply_edits(before, [YamlSet(path=path, value=value)], filename="webapp.yaml")
    assert same_typed(load(after)["image"][key], value)
    removed, added = changed(before, after)
    assert removed == []
    assert len(added) == 1


@given(segments=st.lists(st.one_of(st.text(max_size=8), st.integers(0, 99)), min_size=1))
def test_format_path_and_parse_path_round_trip(segments: list[str | int]) -> None:
    assume(all(isinstance(s, int) or encodable(s) for s in segments))
    assert parse_path(format_path(segments)) == segments


# --- YAML details -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "edit", "after"),
    [
        # Quoting: kept when it still says the same; added when plain would not.
        ("a: x\n", YamlSet(path="a", value="1.10"), 'a: "1.10"\n'),
        ("a: x\n", YamlSet(path="a", value="true"), 'a: "true"\n'),
        ("a: x\n", YamlSet(path="a", value=""), 'a: ""\n'),
        ("a: x\n", YamlSet(path="a", value="a #b"), 'a: "a #b"\n'),
        ("a: x\n", YamlSet(path="a", value="- a"), 'a: "- a"\n'),
        ("a: x\n", YamlSet(path="a", value="tab\there é"), 'a: "tab\\there é"\n'),
        ("a: x\n", YamlSet(path="a", value="two\nlines"), 'a: "two\\nlines"\n'),
        ("a: 'x'\n", YamlSet(path="a", value="it's"), "a: 'it''s'\n"),
        ("a: 'x'\n", YamlSet(path="a", value=5), "a: 5\n"),  # a number is not a string
        ('a: "x"\n', YamlSet(path="a", value=None), "a: null\n"),
        ("a: x\n", YamlSet(path="a", value=1.5e-07), "a: 1.5e-07\n"),
        ("a: x\n", YamlSet(path="a", value=math.inf), "a: .inf\n"),
        ("a: True\n", YamlSet(path="a", value=False), "a: False\n"),  # its spelling kept
        ("a: 0x1F\n", YamlSet(path="a", value=31), "a: 0x1F\n"),  # already there
        ("a: !!str 123\n", YamlSet(path="a", value="124"), 'a: "124"\n'),
        ("80: http\n", YamlSet(path="80", value="https"), "80: https\n"),  # an int key
        # Empty values, and where new keys go.
        ("a:\nb: 2\n", YamlSet(path="a", value="x"), "a: x\nb: 2\n"),
        ("a:   # later\nb: 2\n", YamlSet(path="a", value="x"), "a: x   # later\nb: 2\n"),
        ("a:\nb: 2\n", YamlSet(path="a", value={"x": 1}), "a:\n  x: 1\nb: 2\n"),
        (
            "a:\n  b: {}  # none\nc: 1\n",
            YamlSet(path="a.b.x", value="y"),
            'a:\n  b:  # none\n    x: "y"\nc: 1\n',  # y is true to YAML 1.1: quoted
        ),
        ("a: 1\nb:\n  c: x", YamlSet(path="b.d", value="n"), 'a: 1\nb:\n  c: x\n  d: "n"'),
        ("k: v\n", YamlSet(path='"we ird: key"', value=1), 'k: v\n"we ird: key": 1\n'),
        (
            "a:\n  x: 1\n  # x is the only one\n\nb: 2\n",
            YamlSet(path="a.y", value=2),
            'a:\n  x: 1\n  # x is the only one\n  "y": 2\n\nb: 2\n',
        ),
        # Sequences.
        ("- a\n- b\n", YamlSet(path="[1]", value="c"), "- a\n- c\n"),
        ("l:\n  - a: 1\n    b: 2\n  - c\n", YamlSet(path="l[0]", value="x"), "l:\n  - x\n  - c\n"),
        (
            "l:\n- a: 1\n  b: 2\n",
            YamlSet(path="l[0].c", value=[1, 2]),
            "l:\n- a: 1\n  b: 2\n  c:\n  - 1\n  - 2\n",
        ),
        ("l:\n  - a: 1\n    b: 2\n", YamlDelete(path="l[0].a"), "l:\n  - b: 2\n"),
        ("a:\n  - 1\nb: 2\n", YamlDelete(path="a[0]"), "a: []\nb: 2\n"),
        ("a:\n  x: 1  # one\nb: 2\n", YamlDelete(path="a.x"), "a: {}\nb: 2\n"),
        # Flow style stays flow style.
        ("a: {b: 1, c: 2}  # f\n", YamlSet(path="a.b", value="x y"), "a: {b: x y, c: 2}  # f\n"),
        ("a: {b: 1, c: 2}  # f\n", YamlSet(path="a.e", value=3), "a: {b: 1, c: 2, e: 3}  # f\n"),
        ("a: {b: 1, c: 2}  # f\n", YamlDelete(path="a.b"), "a: {c: 2}  # f\n"),
        ("a: {b: 1, c: 2}  # f\n", YamlDelete(path="a.c"), "a: {b: 1}  # f\n"),
        ("a: [1, 2, 3]\n", YamlDelete(path="a[1]"), "a: [1, 3]\n"),
        ("a: [1, 2]\n", YamlSet(path="a[1]", value="b,c"), 'a: [1, "b,c"]\n'),
        ("a: [1, 2]\n", YamlSet(path="a[0]", value={"k": [1]}), 'a: [{"k": [1]}, 2]\n'),
        # Block scalars.
        ("a: >\n  folded\n  text\nb: 1\n", YamlSet(path="a", value="short"), "a: short\nb: 1\n"),
        (
            "a: |\n  one\n  two\n\nb: 1\n",
            YamlSet(path="a", value="one\nthree\n"),
            "a: |\n  one\n  three\n\nb: 1\n",
        ),
        ("a: |+\n  kept\n\nb: 1\n", YamlSet(path="c", value=3), "a: |+\n  kept\n\nb: 1\nc: 3\n"),
        # Anchors: an alias leaf becomes a value; an anchor's own path is
        # edited at the anchor (its aliases follow, as YAML says).
        ("v: &v 1\nw: *v\n", YamlSet(path="w", value=2), "v: &v 1\nw: 2\n"),
        ("b: &b\n  t: 1\np: *b\n", YamlSet(path="b.t", value=2), "b: &b\n  t: 2\np: *b\n"),
        (
            "b: &b\n  port: 80\ns:\n  <<: *b\n  name: x\n",
            YamlSet(path="s.port", value=81),
            "b: &b\n  port: 80\ns:\n  <<: *b\n  name: x\n  port: 81\n",
        ),
        # Line endings, byte-order mark and document marker are kept.
        ("a: 1\r\nb:\r\n  c: x\r\n", YamlSet(path="b.c", value="y"), 'a: 1\r\nb:\r\n  c: "y"\r\n'),
        (
            "a: 1\r\nb:\r\n  c: x\r\n",
            YamlSet(path="b.d", value={"e": 1}),
            "a: 1\r\nb:\r\n  c: x\r\n  d:\r\n    e: 1\r\n",
        ),
        ("\ufeffa: 1\n", YamlSet(path="a", value=2), "\ufeffa: 2\n"),
        ("---\na: 1\n", YamlSet(path="a", value=2), "---\na: 2\n"),
    ],
)
def test_yaml_edit(before: str, edit: Edit, after: str) -> None:
    assert yaml_apply(before, edit) == after


def test_the_last_resort_is_a_verified_round_trip_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deleting a document's only key leaves nothing to splice: ruamel
    writes it, and the result is still checked against the intent."""
    import prplan.edits.yaml as yaml_editor

    calls: list[object] = []
    real = yaml_editor._yaml_redump

    def spy(*args: Any) -> str:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(yaml_editor, "_yaml_redump", spy)
    assert yaml_apply("# only\nx: 1\n", YamlDelete(path="x")) == "# only\n{}\n"
    assert len(calls) == 1
    # No splice would be checked in vain: the golden cases never get here.
    for case in CASES:
        apply_edits(source(case.source), case.edits, filename="values.yaml")
    assert len(calls) == 1


def test_an_edit_the_yaml_library_cannot_make_is_an_edit_error() -> None:
    with pytest.raises(EditError) as caught:
        yaml_apply("a: &a {x: 1, y: 2}\nc:\n  <<: *a\n", YamlDelete(path="a.x"))
    assert caught.value.reason == (
        "the YAML library could not apply this edit (KeyError: 1); "
        "a merge key ('<<') or alias using this mapping is probably in the way"
    )


def test_edits_apply_in_order() -> None:
    out = yaml_apply(
        "a: 1\n",
        YamlSet(path="b", value={"c": 1}),
        YamlSet(path="b.c", value=2),
        YamlSet(path="b.d", value=3),
        YamlDelete(path="a"),
    )
    assert out == "b:\n  c: 2\n  d: 3\n"


def test_the_callers_value_is_copied_not_shared() -> None:
    value = {"k": [1]}
    out = yaml_apply("a: 1\n", YamlSet(path="b", value=value), YamlSet(path="b.k[0]", value=2))
    assert value == {"k": [1]}
    assert out == "a: 1\nb:\n  k:\n  - 2\n"


def test_a_tuple_is_written_as_a_list() -> None:
    assert yaml_apply("a: 1\n", YamlSet(path="a", value=(1, "x"))) == "a:\n- 1\n- x\n"


# --- JSON ---------------------------------------------------------------------------

TWO = '{\n  "name": "app",\n  "image": {\n    "tag": "1.0"\n  },\n  "ports": [\n    80,\n    443\n  ]\n}\n'
FOUR = '{\n    "name": "app",\n    "image": {\n        "tag": "1.0"\n    }\n}'
COMPACT = '{"name": "app", "image": {"tag": "1.0"}}\n'
MINIFIED = '{"name":"app","image":{"tag":"1.0"}}'


@pytest.mark.parametrize(
    ("before", "edit", "after"),
    [
        (TWO, JsonSet(path="image.tag", value="1.1"), TWO.replace('"1.0"', '"1.1"')),
        (
            TWO,
            JsonSet(path="image.digest", value="sha"),
            TWO.replace('"1.0"\n', '"1.0",\n    "digest": "sha"\n'),
        ),
        (TWO, JsonDelete(path="ports[0]"), TWO.replace("    80,\n", "")),
        (TWO, JsonDelete(path="ports[1]"), TWO.replace(",\n    443", "")),
        (TWO, JsonDelete(path="name"), TWO.replace('  "name": "app",\n', "")),
        (
            TWO,
            JsonSet(path="image", value={"tag": "2", "pull": ["a"]}),
            TWO.replace(
                '{\n    "tag": "1.0"\n  }',
                '{\n    "tag": "2",\n    "pull": [\n      "a"\n    ]\n  }',
            ),
        ),
        (FOUR, JsonSet(path="image.tag", value=2), FOUR.replace('"1.0"', "2")),
        (
            FOUR,
            JsonSet(path="image.extra", value={"a": [1]}),
            FOUR.replace(
                '"1.0"\n',
                '"1.0",\n        "extra": {\n            "a": [\n                1\n            ]\n        }\n',
            ),
        ),
        (COMPACT, JsonSet(path="image.tag", value="é"), COMPACT.replace('"1.0"', '"é"')),
        (COMPACT, JsonSet(path="new", value=[1, 2]), COMPACT.replace("}}", '}, "new": [1, 2]}')),
        (MINIFIED, JsonSet(path="new", value={"a": 1}), MINIFIED[:-1] + ',"new":{"a":1}}'),
        (MINIFIED, JsonDelete(path="name"), '{"image":{"tag":"1.0"}}'),
        ('{"a": "\\u00e9"}\n', JsonSet(path="b", value="é"), '{"a": "\\u00e9", "b": "\\u00e9"}\n'),
        (
            '{\r\n  "a": 1\r\n}\r\n',
            JsonSet(path="b", value=2),
            '{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n',
        ),
        ('{\n\t"a": 1\n}\n', JsonSet(path="b", value=2), '{\n\t"a": 1,\n\t"b": 2\n}\n'),
        # An odd layout is kept around the edit.
        ('{ "a" :1 ,\n  "b":[1,2 ] }', JsonSet(path="a", value=2), '{ "a" :2 ,\n  "b":[1,2 ] }'),
        (
            '{\n  "a": [1, 2],\n  "b": "x"\n}\n',
            JsonSet(path="c", value=[3]),
            '{\n  "a": [1, 2],\n  "b": "x",\n  "c": [\n    3\n  ]\n}\n',
        ),
        # The last duplicate key is the one json.loads sees, so the one set.
        ('{"a": 1, "a": 2}', JsonSet(path="a", value=3), '{"a": 1, "a": 3}'),
        ('{"a": 1.0}', JsonSet(path="a", value=1), '{"a": 1}'),  # 1 is not 1.0
        ('{"a": [1]}', JsonDelete(path="a[0]"), '{"a": []}'),
        ('{"a": {}}', JsonSet(path="a.b", value=None), '{"a": {"b": null}}'),
        ("[1, 2]", JsonSet(path="[1]", value=False), "[1, false]"),
    ],
)
def test_json_edit(before: str, edit: Edit, after: str) -> None:
    assert json_apply(before, edit) == after


@pytest.mark.parametrize("indent", [2, 4, None])
@pytest.mark.parametrize("newline", [True, False])
def test_json_redump_keeps_the_detected_style(indent: int | None, newline: bool) -> None:
    """Where splicing is not possible (a new key in an empty object), the
    document is dumped in its own style."""
    data = {"z": 1, "a": {}, "ü": "ö"}
    before = json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if newline else "")
    after = json_apply(before, JsonSet(path="a.b", value=[1]))
    data["a"] = {"b": [1]}
    assert after == json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if newline else "")


# --- Replace ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "after"),
    [
        (Replace(old="1.4.1", new="1.4.2"), "image: app:1.4.2\nold: 1.3\n"),
        (Replace(old="1.", new="2.", count=2), "image: app:2.4.1\nold: 2.3\n"),
        (Replace(old="1.", new="2.", count=None), "image: app:2.4.1\nold: 2.3\n"),
        (Replace(old="nothing", new="x", count=0), "image: app:1.4.1\nold: 1.3\n"),
        (
            Replace(old=r"app:(\d+)\.(\d+)\.\d+", new=r"app:\1.\2.9", regex=True),
            "image: app:1.4.9\nold: 1.3\n",
        ),
        (
            Replace(old=r"(?m)^(?P<k>\w+):", new=r"\g<k>=", regex=True, count=2),
            "image= app:1.4.1\nold= 1.3\n",
        ),
        (Replace(old=r"\d", new="#", regex=True, count=None), "image: app:#.#.#\nold: #.#\n"),
    ],
)
def test_replace(edit: Replace, after: str) -> None:
    assert yaml_apply("image: app:1.4.1\nold: 1.3\n", edit) == after


def test_replace_works_on_any_text() -> None:
    before = "FROM python:3.11-slim\nRUN pip install app==1.4.1\n"
    out = apply_edits(
        before.encode(), [Replace(old="==1.4.1", new="==1.4.2")], filename="Dockerfile"
    )
    assert out == before.replace("1.4.1", "1.4.2").encode()


# --- errors -------------------------------------------------------------------------

WEBAPP = source("webapp")


@pytest.mark.parametrize(
    ("content", "edit", "reason"),
    [
        (None, YamlSet(path="image.tag", value="1"), "file does not exist"),
        (None, Replace(old="a", new="b"), "file does not exist"),
        (
            b"a: \xff\n",
            YamlSet(path="a", value=1),
            "file is not UTF-8 text (byte 0xff at offset 3)",
        ),
        (
            b"a: [1\n",
            YamlSet(path="a", value=2),
            "does not parse as YAML: line 2, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        (
            b"a: 1\na: 2\n",
            YamlSet(path="a", value=2),
            'does not parse as YAML: line 2, column 1: found duplicate key "a" with value "2" (original value: "1")',
        ),
        (
            b"a: 1\n---\nb: 2\n",
            YamlSet(path="a", value=2),
            "does not parse as YAML: line 2, column 1: but found another document",
        ),
        (
            b'{"a": 1,}',
            JsonSet(path="a", value=2),
            "does not parse as JSON: line 1, column 9: Expecting property name enclosed in double quotes",
        ),
        (b"", YamlSet(path="a", value=1), "the document is empty; 'a' does not exist"),
        (b"- 1\n", YamlSet(path="a", value=1), "the document is a sequence, not a mapping"),
        (b"[1]", JsonSet(path="a", value=1), "the document is an array, not an object"),
        (WEBAPP, YamlSet(path="image.nothing[0]", value=1), "'image.nothing' does not exist"),
        (WEBAPP, YamlSet(path="image.tag.x", value=1), "'image.tag' is a string, not a mapping"),
        (
            WEBAPP,
            YamlSet(path="replicaCount.x", value=1),
            "'replicaCount' is an integer, not a mapping",
        ),
        (WEBAPP, YamlSet(path="image[0]", value=1), "'image' is a mapping, not a sequence"),
        (WEBAPP, YamlSet(path="env.x", value=1), "'env' is a sequence, not a mapping"),
        (
            WEBAPP,
            YamlSet(path="env[3].value", value=1),
            "index 3 is out of range: 'env' has 3 items",
        ),
        (WEBAPP, YamlSet(path="env[3]", value=1), "index 3 is out of range: 'env' has 3 items"),
        (WEBAPP, YamlDelete(path="env[7]"), "index 7 is out of range: 'env' has 3 items"),
        (WEBAPP, YamlDelete(path="image.digest"), "'image.digest' does not exist"),
        (b"a:\n", YamlSet(path="a.b", value=1), "'a' is null, not a mapping"),
        (
            b"- 1\n",
            YamlSet(path="[1]", value=1),
            "index 1 is out of range: the document has 1 item",
        ),
        (b'{"a": 1}', JsonDelete(path="b"), "'b' does not exist"),
        (b'{"a": 1}', JsonSet(path="a.b", value=1), "'a' is a number, not an object"),
        (b'{"a": {}}', JsonSet(path="a[0]", value=1), "'a' is an object, not an array"),
        (b'{"a": []}', JsonSet(path="a[0]", value=1), "index 0 is out of range: 'a' has 0 items"),
        (WEBAPP, Replace(old="tag", new="x"), "expected 1 match, found 4"),
        (WEBAPP, Replace(old="value:", new="v:", count=2), "expected 2 matches, found 3"),
        (WEBAPP, Replace(old="nowhere", new="x", count=None), "expected at least 1 match, found 0"),
        (WEBAPP, Replace(old="nowhere", new="x"), "expected 1 match, found 0"),
        (WEBAPP, Replace(old=r"\bname\b", new="n", regex=True), "expected 1 match, found 6"),
        (
            b"b: &b\n  t: 1\np: *b\n",
            YamlSet(path="p.t", value=2),
            "'p' is an alias ('*'); editing through it would change the anchor and every alias "
            "of it: edit the anchor's own path",
        ),
        (
            b"l:\n- &x {t: 1}\n- *x\n",
            YamlSet(path="l[1].t", value=2),
            "'l[1]' is an alias ('*'); editing through it would change the anchor and every "
            "alias of it: edit the anchor's own path",
        ),
        (
            b"b: &b\n  i: {t: 1}\ns:\n  <<: *b\n",
            YamlSet(path="s.i.t", value=2),
            "'s.i' comes from a merge key ('<<'); editing through it would change the mapping "
            "it is merged from: edit that one",
        ),
    ],
)
def test_edit_errors(content: bytes | None, edit: Edit, reason: str) -> None:
    with pytest.raises(EditError) as caught:
        apply_edits(content, [edit], filename="values.yaml")
    error = caught.value
    assert error.reason == reason
    assert error.edit is edit
    assert error.filename == "values.yaml"
    target = edit.path if not isinstance(edit, Replace) else repr(edit.old)
    assert str(error) == f"{kind(edit)} {target}: {reason}"
    assert isinstance(error, RepositoryDisagreesError)


def test_the_error_names_the_edit_that_failed_and_nothing_is_half_done() -> None:
    good = YamlSet(path="image.tag", value="2")
    bad = YamlDelete(path="image.nothing")
    with pytest.raises(EditError) as caught:
        apply_edits(WEBAPP, [good, bad], filename="values.yaml")
    assert caught.value.edit is bad
    assert str(caught.value) == "yaml-delete image.nothing: 'image.nothing' does not exist"


def test_a_long_replace_target_is_shortened_in_the_message() -> None:
    edit = Replace(old="x" * 100, new="y")
    with pytest.raises(EditError) as caught:
        apply_edits(b"abc", [edit], filename="f")
    assert str(caught.value) == f"replace {'x' * 57 + '...'!r}: expected 1 match, found 0"


def test_no_edits_returns_the_content() -> None:
    assert apply_edits(WEBAPP, [], filename="values.yaml") == WEBAPP


def test_no_edits_for_a_missing_file_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        apply_edits(None, [], filename="values.yaml")
    assert caught.value.problems == (Problem("edits", "is empty, and values.yaml does not exist"),)


def test_a_malformed_edit_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        apply_edits(WEBAPP, [YamlSet(path="a..b", value=1)], filename="values.yaml")
    assert caught.value.problems == (
        Problem("edits[0].path", "path 'a..b' has an empty key at position 2"),
    )


# --- paths, kinds, validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("image.tag", ["image", "tag"]),
        ("containers[0].image", ["containers", 0, "image"]),
        ('annotations."app.kubernetes.io/name"', ["annotations", "app.kubernetes.io/name"]),
        ("annotations.'app.kubernetes.io/name'", ["annotations", "app.kubernetes.io/name"]),
        ('"a\\"b\\\\c"', ['a"b\\c']),
        ("'it''s'", ["it's"]),
        ('""', [""]),
        ("[0].name", [0, "name"]),
        ("[0][1]", [0, 1]),
        ("matrix[10][2]", ["matrix", 10, 2]),
        ('x."y"[1]', ["x", "y", 1]),
        ("80", ["80"]),
        ("with space.key", ["with space", "key"]),
        ("ünï/cödé", ["ünï/cödé"]),
    ],
)
def test_parse_path(path: str, segments: list[str | int]) -> None:
    assert parse_path(path) == segments
    assert parse_path(format_path(segments)) == segments


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "is empty"),
        ("a..b", "path 'a..b' has an empty key at position 2"),
        (".a", "path '.a' has an empty key at position 0"),
        ("a.", "path 'a.' ends with '.'"),
        (
            "a[x]",
            "path 'a[x]' has a bad index at position 1: expected [N] with N a non-negative integer, "
            "or [KEY=VALUE] to select the item whose KEY is VALUE",
        ),
        (
            "a[-1]",
            "path 'a[-1]' has a bad index at position 1: expected [N] with N a non-negative integer, "
            "or [KEY=VALUE] to select the item whose KEY is VALUE",
        ),
        (
            "a[01]",
            "path 'a[01]' has a bad index at position 1: expected [N] with N a non-negative integer, "
            "or [KEY=VALUE] to select the item whose KEY is VALUE",
        ),
        (
            "a[1",
            "path 'a[1' has a bad index at position 1: expected [N] with N a non-negative integer, "
            "or [KEY=VALUE] to select the item whose KEY is VALUE",
        ),
        ("a]", "path 'a]' has an unexpected ']' at position 1"),
        ('a."b', "path 'a.\"b' has an unterminated \" quote at position 2"),
        ('"b"c', "path '\"b\"c' has an unexpected 'c' at position 3"),
        (
            '"a\\n"',
            'path \'"a\\\\n"\': unknown escape at position 2; only \\" and \\\\ are escapes',
        ),
        (
            "a. b",
            "path 'a. b': key ' b' has leading or trailing spaces; quote it if they are meant",
        ),
        ("a.[0]", "path 'a.[0]' has an empty key at position 2"),
    ],
)
def test_parse_path_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_path(path)
    assert str(caught.value) == message


def test_kind() -> None:
    assert [
        kind(YamlSet(path="a", value=1)),
        kind(YamlDelete(path="a")),
        kind(JsonSet(path="a", value=1)),
        kind(JsonDelete(path="a")),
        kind(Replace(old="a", new="b")),
    ] == ["yaml-set", "yaml-delete", "json-set", "json-delete", "replace"]
    with pytest.raises(TypeError):
        kind("yaml-set")


def test_edits_are_frozen_keyword_only_values() -> None:
    edit = YamlSet(path="a", value=1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        edit.path = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        YamlSet("a", 1)  # type: ignore[call-arg]
    assert Replace(old="a", new="b") == Replace(old="a", new="b", regex=False, count=1)


class Custom:
    pass


@pytest.mark.parametrize(
    ("edit", "problems"),
    [
        (YamlSet(path="image.tag", value="1.4.2"), []),
        (YamlSet(path="a", value={"b": [1, 2.5, None, True, "x", (1, 2)]}), []),
        (YamlSet(path="a", value=math.nan), []),  # YAML has .nan
        (YamlDelete(path="env[0]"), []),
        (Replace(old=r"(\d+)", new=r"<\1>", regex=True, count=None), []),
        (Replace(old="x", new="y", count=0), []),
        (
            "yaml-set a 1",
            [
                (
                    "e",
                    "must be an edit (YamlSet, YamlDelete, JsonSet, JsonDelete or Replace), got str",
                )
            ],
        ),
        (YamlDelete(path="a..b"), [("e.path", "path 'a..b' has an empty key at position 2")]),
        (JsonDelete(path=5), [("e.path", "must be a string, got int")]),  # type: ignore[arg-type]
        (
            YamlSet(path="a", value=Custom()),
            [
                (
                    "e.value",
                    "value has type Custom; YAML values are str, int, float, bool, None, lists "
                    "and dicts (with str keys)",
                )
            ],
        ),
        (
            JsonSet(path="a", value={"b": {1, 2}}),
            [
                (
                    "e.value",
                    "value['b'] has type set; JSON values are str, int, float, bool, None, lists "
                    "and dicts (with str keys)",
                )
            ],
        ),
        (
            JsonSet(path="a", value=[math.inf]),
            [("e.value", "value[0] is inf, which JSON cannot represent")],
        ),
        (
            YamlSet(path="a", value={1: "x"}),
            [("e.value", "value has a key of type int; keys must be str")],
        ),
        (
            YamlSet(path="a", value="\ud800"),
            [("e.value", "value is not valid Unicode text (a lone surrogate?)")],
        ),
        (
            YamlSet(path="a[", value=b"bytes"),
            [
                (
                    "e.path",
                    "path 'a[' has a bad index at position 1: expected [N] with N a non-negative integer, "
                    "or [KEY=VALUE] to select the item whose KEY is VALUE",
                ),
                (
                    "e.value",
                    "value has type bytes; YAML values are str, int, float, bool, None, lists and "
                    "dicts (with str keys)",
                ),
            ],
        ),
        (Replace(old="", new="x"), [("e.old", "is empty; say what to replace")]),
        (Replace(old="a", new="b", count=-1), [("e.count", "is -1; it must be 0 or more")]),
        (
            Replace(old="a", new="b", count=True),
            [("e.count", "must be a whole number or None (at least one)")],
        ),
        (
            Replace(old="(", new="b", regex=True),
            [
                (
                    "e.old",
                    "is not a valid regular expression: missing ), unterminated subpattern at position 0",
                )
            ],
        ),
        (
            Replace(old="(a)", new=r"\2", regex=True),
            [
                (
                    "e.new",
                    "is not a valid replacement for this pattern: invalid group reference 2 at position 1",
                )
            ],
        ),
        (
            Replace(old="(?P<x>a)", new=r"\g<y>", regex=True),
            [("e.new", "is not a valid replacement for this pattern: unknown group name 'y'")],
        ),
        (
            Replace(old=1, new=None),  # type: ignore[arg-type]
            [
                ("e.old", "must be a string, got int"),
                ("e.new", "must be a string, got NoneType"),
            ],
        ),
        (Replace(old="a", new="b", regex="yes"), [("e.regex", "must be True or False")]),  # type: ignore[arg-type]
    ],
)
def test_edit_problems(edit: object, problems: list[tuple[str, str]]) -> None:
    assert edit_problems(edit, "e") == [Problem(field, message) for field, message in problems]


def test_a_value_that_contains_itself_is_a_problem() -> None:
    loop: list[object] = []
    loop.append(loop)
    assert edit_problems(YamlSet(path="a", value=loop), "e") == [
        Problem("e.value", "value[0] contains itself")
    ]


def test_golden_sources_are_what_the_cases_assume() -> None:
    """Guard against editing an input without regenerating its goldens."""
    for name in SOURCES:
        text = source(name).decode()
        assert text.endswith("\n") and "\r" not in text
        assert re.search(r"^# |^## ", text, re.MULTILINE)


# --- values as written (issue 10, item 1) ------------------------------------------


def written(path: str, text: str) -> YamlSet:
    return YamlSet(path=path, value=text, as_written=True)


@pytest.mark.parametrize(
    ("before", "edit", "after"),
    [
        # A string stays a string, in its own quote style.
        ('tag: "1.4.3"\n', written("tag", "1.10"), 'tag: "1.10"\n'),
        ("tag: '1.4.3'\n", written("tag", "1.20"), "tag: '1.20'\n"),
        ("tag: v1\n", written("tag", "1e3"), 'tag: "1e3"\n'),
        ("tag: v1\n", written("tag", "0x10"), 'tag: "0x10"\n'),
        ("tag: v1\n", written("tag", "010"), 'tag: "010"\n'),
        ("tag: v1\n", written("tag", "v2"), "tag: v2\n"),
        # A number stays a number, as written.
        ("n: 2\n", written("n", "1.10"), "n: 1.10\n"),
        ("n: 2\n", written("n", "0x10"), "n: 0x10\n"),
        ("n: 2\n", written("n", "3"), "n: 3\n"),
        ("n: 2\n", written("n", "many"), "n: many\n"),  # not a number: a string, noted
        ("b: true\n", written("b", "false"), "b: false\n"),
        ("b: true\n", written("b", "no"), "b: false\n"),  # YAML 1.1's false: noted
        # A quoted text is a string whatever the key holds.
        ("n: 2\n", written("n", '"3"'), 'n: "3"\n'),
        # A new key: YAML 1.2 inference, unless it would not read back as written.
        ("a: 1\n", written("b", "3"), "a: 1\nb: 3\n"),
        ("a: 1\n", written("b", "true"), "a: 1\nb: true\n"),
        ("a: 1\n", written("b", "1.5"), "a: 1\nb: 1.5\n"),
        ("a: 1\n", written("b", "1.10"), 'a: 1\nb: "1.10"\n'),
        ("a: 1\n", written("b", "010"), 'a: 1\nb: "010"\n'),
        ("a: 1\n", written("b", "1e3"), 'a: 1\nb: "1e3"\n'),
        # Missing parents are created, as Helm does.
        ("a: 1\n", written("image.tag", "1.10"), 'a: 1\nimage:\n  tag: "1.10"\n'),
    ],
)
def test_values_are_typed_as_written(before: str, edit: YamlSet, after: str) -> None:
    assert yaml_apply(before, edit) == after


def test_json_values_are_typed_as_written() -> None:
    before = '{"tag": "1.4.3", "n": 2, "x": 1.50}'
    out = json_apply(
        before,
        JsonSet(path="tag", value="1.10", as_written=True),
        JsonSet(path="n", value="1.10", as_written=True),
        JsonSet(path="m", value="1e3", as_written=True),
        JsonSet(path="n2", value="7", as_written=True),
    )
    assert out == '{"tag": "1.10", "n": 1.10, "x": 1.50, "m": "1e3", "n2": 7}'
    # 0x10 is not a JSON number: written as a string, with a note.
    assert json_apply('{"n": 2}', JsonSet(path="n", value="0x10", as_written=True)) == (
        '{"n": "0x10"}'
    )


def test_notes_say_what_a_reviewer_should_know() -> None:
    _, notes = edit_file(
        b"image:\n  tag: '1'\nn: 2\nenv:\n- name: A\n  value: x\n",
        [
            written("image.tagg", "1.10"),
            written("n", "many"),
            written("env[name=A].value", "y"),
            written("new.deep.key", "1"),
        ],
        filename="v.yaml",
    )
    assert notes == (
        'v.yaml: image.tagg: 1.10 is written as the string "1.10", as written (unquoted it '
        "would read as 1.1; give it with --set-json or set_json: to write that)",
        "v.yaml: adds key image.tagg",
        "v.yaml: n was a number; 'many' is not one, so it is written as a string",
        "v.yaml: env[name=A] is item env[0]",
        "v.yaml: adds key new.deep.key (with new parent mappings from new)",
    )


def test_an_as_written_value_must_be_text() -> None:
    assert edit_problems(YamlSet(path="a", value=1, as_written=True), "e") == [
        Problem(
            "e.value",
            "must be the text as written (a str, or lists and mappings of str) with "
            "as_written=True, got int",
        )
    ]


# --- selecting list items by a key's value (item 7) ----------------------------------

KUSTOMIZATION = """\
images:
  - name: ghcr.io/acme/web
    newTag: 1.4.1
  - name: ghcr.io/acme/api  # the one
    newTag: "1.4.1"
env:
  - {name: A, value: "1"}
  - {name: A, value: "2"}
"""


def test_a_selector_edits_the_item_whose_key_matches() -> None:
    out = yaml_apply(KUSTOMIZATION, written("images[name=ghcr.io/acme/api].newTag", "1.10"))
    assert out == KUSTOMIZATION.replace('newTag: "1.4.1"', 'newTag: "1.10"')
    quoted = YamlSet(path='images[name="ghcr.io/acme/web"].newTag', value="2")
    assert yaml_apply(KUSTOMIZATION, quoted) == KUSTOMIZATION.replace(
        "newTag: 1.4.1", 'newTag: "2"'
    )
    assert yaml_apply(KUSTOMIZATION, YamlDelete(path="images[name=ghcr.io/acme/web]")) == (
        KUSTOMIZATION.replace("  - name: ghcr.io/acme/web\n    newTag: 1.4.1\n", "")
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            "env[name=A].value",
            "'env[name=A]' matches 2 items ([0], [1]); it must match exactly one",
        ),
        ("env[name=B].value", "'env[name=B]' matches no item; it must match exactly one"),
        ("images[name=x]", "'images[name=x]' matches no item; it must match exactly one"),
    ],
)
def test_a_selector_must_match_exactly_one_item(path: str, reason: str) -> None:
    with pytest.raises(EditError) as caught:
        yaml_apply(KUSTOMIZATION, YamlSet(path=path, value="x"))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("env[name=LOG_LEVEL].value", ["env", Select("name", "LOG_LEVEL"), "value"]),
        (
            "images[name=ghcr.io/acme/api].newTag",
            ["images", Select("name", "ghcr.io/acme/api"), "newTag"],
        ),
        ('a[k="x]y"]', ["a", Select("k", "x]y")]),
        ("a['a=b'='c.d']", ["a", Select("a=b", "c.d")]),
        ("[port=80]", [Select("port", "80")]),
    ],
)
def test_parse_path_selectors(path: str, segments: list[Any]) -> None:
    assert parse_path(path) == segments
    assert parse_path(format_path(segments)) == segments


# --- JSON: no byte outside the edit changes (items 2 and 6) ---------------------------


@pytest.mark.parametrize(
    ("before", "edit", "after"),
    [
        # Once re-serialised (1.50 -> 1.5, 1E-7 -> 1e-07, \/ -> /, 1e400 -> Infinity).
        (
            '{"a": {"only": 1}, "x": 1.50, "y": 1E-7, "u": "\\/", "z": 1e400}',
            JsonDelete(path="a.only"),
            '{"a": {}, "x": 1.50, "y": 1E-7, "u": "\\/", "z": 1e400}',
        ),
        (
            '{\n  "a": {},\n  "big": 12345678901234567890.0\n}\n',
            JsonSet(path="a.b", value=1),
            '{\n  "a": {\n    "b": 1\n  },\n  "big": 12345678901234567890.0\n}\n',
        ),
        ('{"a": 1, "x": 1.50, "a": 2}', JsonDelete(path="a"), '{"x": 1.50}'),
        ("[1.50]", JsonDelete(path="[0]"), "[]"),
        ('{"a": {}, "x": 1.0E2}', JsonSet(path="a.b", value="c"), '{"a": {"b": "c"}, "x": 1.0E2}'),
        # Inline additions in an indented file follow their container's style.
        (
            '{\n  "o": {"only": true}\n}\n',
            JsonSet(path="o.new", value=1),
            '{\n  "o": {"only": true, "new": 1}\n}\n',
        ),
        (
            '{\n  "o": {"a":1,"b":2}\n}\n',
            JsonSet(path="o.c", value=3),
            '{\n  "o": {"a":1,"b":2,"c":3}\n}\n',
        ),
    ],
)
def test_json_edits_keep_every_other_byte(before: str, edit: Edit, after: str) -> None:
    assert json_apply(before, edit) == after


def test_a_yaml_edit_of_a_json_document_keeps_it_json() -> None:
    before = '{"a": 1, "x": 1.50}\n'
    out = apply_edits(before.encode(), [YamlSet(path="c", value="x")], filename=".babelrc")
    assert out == b'{"a": 1, "x": 1.50, "c": "x"}\n'
    json.loads(out)
    with pytest.raises(EditError) as caught:
        apply_edits(before.encode(), [YamlSet(path="c", value=math.nan)], filename="X.JSON")
    assert (
        caught.value.reason == "the file is JSON, and the value is nan, which JSON cannot represent"
    )


def _number_texts() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=1, max_size=4)
    return st.one_of(
        st.integers(-(10**25), 10**25).map(str),
        st.builds(lambda i, f: f"{i}.{f}", st.integers(-99, 99), digits),  # 1.50
        st.builds(
            lambda i, e, s: f"{i}{e}{s}",
            st.integers(0, 9),
            st.sampled_from("eE"),
            st.sampled_from(["-7", "+2", "400", "0"]),
        ),
    )


def _string_texts() -> st.SearchStrategy[str]:
    return st.lists(
        st.one_of(
            st.sampled_from(["\\/", "\\u00e9", "\\n", '\\"', "\\\\", "é", "a", " "]),
            st.text("xyz", max_size=3),
        ),
        max_size=4,
    ).map(lambda parts: '"' + "".join(parts) + '"')


def _json_texts(depth: int = 0) -> st.SearchStrategy[str]:
    """JSON documents as people write them: numbers in every notation,
    escapes, odd spacing; some containers empty, some keys repeated."""
    scalar = st.one_of(_number_texts(), _string_texts(), st.sampled_from(["true", "null"]))
    if depth >= 2:
        return scalar
    inner = _json_texts(depth + 1)
    space = st.sampled_from(["", " ", "\n  "])
    members = st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "\\/d"]), space, inner), max_size=4
    )
    obj = members.map(lambda ms: "{" + ",".join(f'{sp}"{k}": {v}' for k, sp, v in ms) + "}")
    arr = st.lists(st.tuples(space, inner), max_size=3).map(
        lambda items: "[" + ",".join(sp + v for sp, v in items) + "]"
    )
    return st.one_of(scalar, obj, arr) if depth else st.one_of(obj, arr)


def _paths(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _paths(value, (*prefix, index))
    return out


@given(text=_json_texts(), choice=st.integers(0, 1000), kind_of=st.sampled_from(["set", "add", "delete"]),
       value=st.one_of(st.integers(), st.text(max_size=5), st.lists(st.booleans(), max_size=2)))  # fmt: skip
def test_json_edits_change_only_the_edited_span(
    text: str, choice: int, kind_of: str, value: object
) -> None:
    data = json.loads(text)
    containers = [()] + [p for p in _paths(data) if isinstance(at_keys(data, p), dict | list)]
    paths = _paths(data)
    if kind_of == "add":
        parent = containers[choice % len(containers)]
        assume(isinstance(at_keys(data, parent), dict) and "new" not in at_keys(data, parent))
        target: tuple[str | int, ...] = (*parent, "new")
    else:
        assume(paths)
        target = paths[choice % len(paths)]
    path = format_path(list(target))
    edit: Edit = JsonDelete(path=path) if kind_of == "delete" else JsonSet(path=path, value=value)
    after = json_apply(text, edit)
    expected = json.loads(text)
    holder = at_keys(expected, target[:-1])
    if kind_of == "delete":
        if isinstance(holder, dict):
            holder.pop(target[-1])
        else:
            del holder[target[-1]]
    else:
        holder[target[-1]] = value
    assert json.dumps(json.loads(after)) == json.dumps(expected)
    # Every byte outside the edited container (a set: outside the value) is kept.
    span = _span(text, target if kind_of == "set" else target[:-1])
    head, tail = text[: span[0]], text[span[1] :]
    assert after.startswith(head) and after.endswith(tail)
    if kind_of != "set":  # and in the container, every other member as written
        edited = after[len(head) : len(after) - len(tail)]
        for other in _paths(holder if isinstance(holder, dict | list) else {}):
            if len(other) == 1 and other[0] != target[-1] and isinstance(holder, dict):
                member = _member_text(text, (*target[:-1], *other))
                assert member in edited


def at_keys(data: Any, keys: tuple[str | int, ...]) -> Any:
    for key in keys:
        data = data[key]
    return data


def _span(text: str, keys: tuple[str | int, ...]) -> tuple[int, int]:
    """Where the value at ``keys`` is written (the last of duplicate keys)."""
    from prplan.edits.json import _json_find

    start = _json_find(text, list(keys))
    assert start is not None
    return start, json.JSONDecoder().raw_decode(text, start)[1]


def _member_text(text: str, keys: tuple[str | int, ...]) -> str:
    start, end = _span(text, keys)
    return text[start:end]


# --- review of issue 10: YAML 1.1 readers, tags, notes --------------------------------


def yaml11(text: str) -> Any:
    """The document as a YAML 1.1 reader (Helm's and Kubernetes' go-yaml,
    PyYAML) reads it: ``no`` is false, ``1:20`` is 80."""
    with_directive = text if text.startswith("%YAML") else "%YAML 1.1\n---\n" + text
    return YAML(typ="safe").load(with_directive)


#: Plain texts a YAML 1.1 reader takes as a boolean, null or number, though
#: YAML 1.2 reads them as strings.
YAML11_WORDS = ["no", "yes", "on", "off", "No", "YES", "Off", "y", "n", "Y", "N", "yEs", "1:20"]


@pytest.mark.parametrize("word", YAML11_WORDS)
def test_a_string_a_yaml_1_1_reader_would_not_read_as_a_string_is_quoted(word: str) -> None:
    # The key holds a string: the text is one, and stays one for every reader.
    out = yaml_apply("tag: v1\n", written("tag", word))
    assert out == f'tag: "{word}"\n'
    assert yaml11(out) == {"tag": word} == load(out)
    # A Python str is a string too, also inside a collection.
    out = yaml_apply("a: 1\n", YamlSet(path="a", value=word))
    assert yaml11(out) == {"a": word}
    out = yaml_apply("a: 1\n", YamlSet(path="a", value={"c": [word], word: "x"}))
    assert yaml11(out) == {"a": {"c": [word], word: "x"}} == load(out)


def test_a_new_key_a_yaml_1_1_reader_would_not_read_as_a_string_is_quoted() -> None:
    out = yaml_apply("a: 1\n", YamlSet(path="on", value=1))
    assert out == 'a: 1\n"on": 1\n'
    assert yaml11(out) == {"a": 1, "on": 1}
    flow = yaml_apply("a: {b: 1}\n", YamlSet(path="a.off", value="no"))
    assert yaml11(flow) == {"a": {"b": 1, "off": "no"}}


def test_a_yaml_1_1_boolean_word_on_a_new_key_is_a_string_with_a_note() -> None:
    out, notes = edit_file(b"a: b\n", [written("c", "on")], filename="v.yaml")
    assert out == b'a: b\nc: "on"\n'
    assert notes[0] == (
        'v.yaml: c: on is written as the string "on" (YAML 1.1 readers, Helm\'s among '
        "them, would read it unquoted as a boolean; write true or false for one)"
    )


@pytest.mark.parametrize(("word", "value"), [("no", "false"), ("Off", "false"), ("yes", "true")])
def test_a_yaml_1_1_boolean_word_on_a_boolean_key_is_that_boolean(word: str, value: str) -> None:
    out, notes = edit_file(b"enabled: true\n", [written("enabled", word)], filename="v.yaml")
    assert out == f"enabled: {value}\n".encode()
    assert notes == (f"v.yaml: enabled: {word} is written as {value}, the boolean it means",)


def test_a_number_in_a_yaml_1_1_document_is_typed_as_that_document_reads_it() -> None:
    before = "%YAML 1.1\n---\na: 1\n"
    out, notes = edit_file(before.encode(), [written("a", "010")], filename="v.yaml")
    assert out == b"%YAML 1.1\n---\na: 010\n"
    assert yaml11(out.decode()) == {"a": 8}
    assert notes == (
        "v.yaml: a: the document is YAML 1.1 (%YAML 1.1), where 010 reads as 8, not 10",
    )


@pytest.mark.parametrize(
    ("before", "text", "after"),
    [
        ("a: 1\n", "+1", "a: +1\n"),
        ("tag: 1.1\n", "1.10", "tag: 1.10\n"),
        ("n: 16\n", "0x10", "n: 0x10\n"),
    ],
)
def test_a_number_the_same_but_written_otherwise_is_written_as_given(
    before: str, text: str, after: str
) -> None:
    key = before.split(":")[0]
    assert yaml_apply(before, written(key, text)) == after
    assert yaml_apply(after, written(key, text)) == after  # once written, it is in place


def test_a_json_number_the_same_but_written_otherwise_is_written_as_given() -> None:
    after = json_apply('{"tag": 1.1}', JsonSet(path="tag", value="1.10", as_written=True))
    assert after == '{"tag": 1.10}'
    assert json_apply(after, JsonSet(path="tag", value="1.10", as_written=True)) == after


@pytest.mark.parametrize(
    "edit",
    [written("r", "bar"), YamlSet(path="r", value="bar"), YamlSet(path="l", value=["b"])],
)
def test_a_value_with_a_custom_tag_is_not_replaced_by_a_guess(edit: YamlSet) -> None:
    before = "r: !Ref foo\nl: !Sub [a]\n"
    with pytest.raises(EditError) as caught:
        yaml_apply(before, edit)
    tag = "!Ref" if edit.path == "r" else "!Sub"
    assert caught.value.reason == (
        f"{edit.path!r} has the tag {tag}, which prplan cannot keep or drop for you: "
        "change it with --replace (Replace) or write the file whole"
    )
    # deleting it, or replacing text, is fine
    assert yaml_apply(before, YamlDelete(path="r")) == "l: !Sub [a]\n"
    assert yaml_apply(before, Replace(old="!Ref foo", new="!Ref bar")) == (
        "r: !Ref bar\nl: !Sub [a]\n"
    )


@pytest.mark.parametrize("text", ["[1.10, 2]", "{x: 1}"])
def test_a_flow_collection_given_as_written_is_a_string_with_a_note(text: str) -> None:
    out, notes = edit_file(b"a: 1\n", [written("b", text)], filename="v.yaml")
    assert load(out) == {"a": 1, "b": text}
    assert notes[0] == (
        f"v.yaml: b: {text} is written as the string {json.dumps(text)}: --set does not "
        "read lists or mappings (give it with --set-json, or in a change set's set:)"
    )


def test_setting_a_key_that_comes_from_a_merge_key_is_noted() -> None:
    before = 'base: &b\n  tag: "1.9"\nother:\n  <<: *b\n  x: 1\n'
    out, notes = edit_file(before.encode(), [written("other.tag", "1.10")], filename="v.yaml")
    assert load(out)["other"]["tag"] == "1.10"
    assert load(out)["base"]["tag"] == "1.9"
    assert notes == (
        "v.yaml: adds key other.tag (it was merged in with '<<'; the merged mapping is unchanged)",
    )


def test_a_selector_value_holding_an_equals_sign_is_quoted_in_notes() -> None:
    before = "env:\n- name: 'A=B'\n  value: x\n- name: A\n  value: y\n"
    out, notes = edit_file(
        before.encode(), [written('env[name="A=B"].value', "z")], filename="v.yaml"
    )
    assert load(out)["env"][0]["value"] == "z"
    assert notes == ('v.yaml: env[name="A=B"] is item env[0]',)
    assert parse_path(format_path([Select("name", "A=B")])) == [Select("name", "A=B")]


# --- values as written inside a list or mapping (change sets' set:) ------------------


def test_texts_inside_a_collection_are_each_typed_as_for_a_new_key() -> None:
    edit = YamlSet(
        path="image",
        value={"tag": "1.10", "n": "3", "q": '"3"', "on": "yes", "tags": ["1.10", "true"]},
        as_written=True,
    )
    out, notes = edit_file(b"image: {}\nx: 1\n", [edit], filename="v.yaml")
    assert load(out)["image"] == {
        "tag": "1.10", "n": 3, "q": "3", "on": "yes", "tags": ["1.10", True]
    }  # fmt: skip
    assert yaml11(out.decode())["image"]["on"] == "yes"
    assert notes == (
        'v.yaml: image.tag: 1.10 is written as the string "1.10", as written (unquoted it '
        "would read as 1.1; give it with --set-json or set_json: to write that)",
        'v.yaml: image.on: yes is written as the string "yes" (YAML 1.1 readers, Helm\'s '
        "among them, would read it unquoted as a boolean; write true or false for one)",
        'v.yaml: image.tags[0]: 1.10 is written as the string "1.10", as written (unquoted '
        "it would read as 1.1; give it with --set-json or set_json: to write that)",
    )
    as_json = json_apply(
        '{"image": 1}', JsonSet(path="image", value=["1.10", "7"], as_written=True)
    )
    assert as_json == '{"image": ["1.10", 7]}'


def test_a_collection_as_written_holds_only_texts() -> None:
    assert edit_problems(YamlSet(path="a", value={"b": [1]}, as_written=True), "e") == [
        Problem(
            "e.value",
            "must be the text as written (a str, or lists and mappings of str) with "
            "as_written=True, got int at value['b'][0]",
        )
    ]
