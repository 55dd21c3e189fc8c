"""Structured mutations of energysim's inputs, and what came of running each one.

Shared by ``tests/test_fuzz.py`` (hypothesis, a few hundred cases a kind) and
``benchmarks/fuzz.py`` (thousands, in worker processes). A *case* is one
mutated input file (hierarchy, workload or mapping) run through the API, or one
command line run in-process through :func:`energysim.cli.main` in a folder that
holds files the user owns. Every choice a case makes goes through a
:class:`Chooser`, so the benchmark draws from a seeded ``random.Random`` and the
test from hypothesis, with the same generators.

The outcome of a case is one of :data:`OUTCOMES`:

* ``ok``: a result, exit 0;
* ``clean error``: an ``EnergySimError`` naming the file and a field; on the
  command line exit 2 and one stderr line ``energysim: error: ...`` (a file
  with several problems adds one ``  - `` line per problem, as its message lists them);
* ``vague error``: an ``EnergySimError`` that does not name the file and a
  field, or a command-line failure other than exit 2 with that line;
* ``multi-line error``: exit 2 and ``energysim: error:``, followed by lines that
  are not a list of problems (a traceback's tail, a parser's position note);
* ``traceback``: any other exception;
* ``hang``: over the time limit;
* ``memory blow-up``: ``MemoryError`` under the address-space limit, or a
  worker process that died;
* ``damaged user file``: a file the user had before the case is gone or changed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import re
import resource
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
KINDS = ("hierarchy", "workload", "mapping", "cli")
OK, CLEAN, VAGUE, MULTILINE, TRACEBACK, HANG, MEMORY, DAMAGED = (
    "ok",
    "clean error",
    "vague error",
    "multi-line error",
    "traceback",
    "hang",
    "memory blow-up",
    "damaged user file",
)
OUTCOMES = (OK, CLEAN, VAGUE, MULTILINE, TRACEBACK, HANG, MEMORY, DAMAGED)
#: Outcomes the issue accepts: everything else is a bug.
ACCEPTED = frozenset({OK, CLEAN})

T = TypeVar("T")

# --- choices -----------------------------------------------------------------------------------------


class Chooser(Protocol):
    """Where a generator's choices come from (a seeded RNG, or hypothesis' draws)."""

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        ...


def choose(chooser: Chooser, options: Sequence[T]) -> T:
    """One of ``options``."""
    return options[chooser.integer(0, len(options) - 1)]


class RandomChooser:
    """Choices from a ``random.Random``: deterministic for a seed."""

    def __init__(self, rng: Any) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return int(self.rng.randint(low, high))


# --- the files the cases start from --------------------------------------------------------------------

#: Small shipped workloads and one layer each: cheap to analyse on any hierarchy.
SMALL_LAYERS = (("lenet5", "c1"), ("lenet5", "f6"), ("lenet5", "s2"), ("lecture-ops", "psum_conv"))
#: Shipped workloads whose whole simulation takes well under a second.
QUICK_TO_SIMULATE = ("lenet5", "lecture-ops", "alexnet", "bert-base-layer")
DATAFLOW_NAMES = ("ws", "os", "is", "rs", "nlr")
#: Hand-made mappings: (workload, layer, hierarchy, dataflow that builds them).
MAPPING_BASES = (
    ("lenet5", "c1", "eyeriss", "rs"),
    ("lenet5", "c5", "edge-npu", "ws"),
    ("lenet5", "f6", "lecture-toy", "os"),
    ("lecture-ops", "psum_conv", "tpu-like", "is"),
)
#: The README's hand-written mapping of AlexNet's conv3 on eyeriss.
README_MAPPING = {
    "version": 1,
    "layer": "conv3",
    "levels": [
        {"level": "DRAM", "temporal": {"M": 8, "C": 16}},
        {"level": "GLB", "temporal": {"M": 4, "Q": 13}, "spatial": {"C": 4, "P": 13, "R": 3}},
        {"level": "RF", "temporal": {"M": 12, "C": 4, "S": 3}, "keeps": ["weights", "inputs", "outputs"]},
    ],
}


def shipped_files(kind: str) -> dict[str, str]:
    """Name -> text of the shipped ``hierarchies`` or ``workloads`` files."""
    folder = REPOSITORY_ROOT / kind
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.yaml"))}


@cache
def mapping_files() -> tuple[tuple[str, str, str, str], ...]:
    """(workload, layer, hierarchy, YAML text) of valid mapping files to mutate."""
    import energysim as es

    files = []
    for workload, layer, hierarchy, dataflow in MAPPING_BASES:
        built = es.build_mapping(es.load_workload(workload)[layer], es.load_hierarchy(hierarchy), dataflow)
        data = {"version": 1, "layer": layer, **{k: v for k, v in built.to_dict().items() if k != "version"}}
        files.append((workload, layer, hierarchy, yaml.safe_dump(data, sort_keys=False)))
    files.append(("alexnet", "conv3", "eyeriss", yaml.safe_dump(README_MAPPING, sort_keys=False)))
    return tuple(files)


# --- mutations of parsed YAML ------------------------------------------------------------------------

#: A value that stands for raw YAML text in a dumped file (aliases, deep nesting, odd keys).
RAW = "__energysim_fuzz_raw_{}__"
UNKNOWN_KEY = "fuzz_unknown_key"
OTHER_TYPES: tuple[Any, ...] = ("fuzz", "12", "", True, False, [1, 2], {"a": 1}, None, [], {})
#: Names that have broken file names, figures or messages: long, path-like, with control characters.
ODD_NAMES: tuple[str, ...] = (
    "x" * 129,
    "x" * 300_000,
    "c/../../escaped",
    "/etc/passwd",
    "conv\n1",
    "a\x00b",
    "tab\there",
    " ",
    "名前",
    "-".join(["layer"] * 30),
)
EXTREME_NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63,
    10**400 + 7,
    1e30,
    -1e30,
    math.nan,
    math.inf,
    -math.inf,
    1e-300,
    0.5,
    -0.0,
)


def alias_bomb(levels: int) -> str:
    """A billion-laughs value: ``levels`` lists of ten aliases of the one below."""
    parts = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index in range(1, levels):
        parts.append(f"&a{index} [" + ", ".join([f"*a{index - 1}"] * 10) + "]")
    return "[" + ", ".join(parts) + "]"


def raw_value(chooser: Chooser, original: Any) -> tuple[str, str]:
    """Raw YAML text to put in place of ``original``, and what it is."""
    flow = json.dumps(original, allow_nan=True).replace("NaN", ".nan").replace("Infinity", ".inf")
    depth = choose(chooser, (40, 400, 5000))
    options = [
        (f"{'[' * depth}1{']' * depth}", f"nesting {depth} deep"),
        (f"{'{a: ' * depth}1{'}' * depth}", f"mapping nesting {depth} deep"),
        (alias_bomb(choose(chooser, (3, 6, 9))), "alias bomb"),
        ("{[a]: 1}", "flow sequence as a key"),
        ("{{a: 1}: 1}", "flow mapping as a key"),
        ("&x [1, *x]", "recursive alias"),
        ("!!python/object:os.system {}", "python tag"),
        ("!!binary aGVsbG8=", "binary tag"),
        ("2001-12-14", "date"),
        ("0x7fffffffffffffff", "hex int"),
        ("1_000_000", "underscored int"),
        ("0o17", "octal int"),
        (".NaN", "yaml nan"),
        ("-.inf", "yaml -inf"),
    ]
    if isinstance(original, dict):
        options.append((f"{{<<: {flow}, {UNKNOWN_KEY}: 1}}", "merge key of itself"))
        options.append((f"{{<<: [{flow}, {flow}]}}", "merge key of a list"))
        options.append((f"{{? [a, b] : 1, <<: {flow}}}", "unhashable key with merge"))
    if isinstance(original, list) and original:
        options.append((f"[&item {json.dumps(original[0])}, *item, *item]", "anchored item and aliases"))
    return choose(chooser, options)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``data`` (dict keys and list indices), the root first."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _where(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def mutate_data(chooser: Chooser, data: Any, raws: dict[str, str]) -> str:
    """Apply one structured mutation to ``data`` in place; returns its description.

    Raw YAML replacements are stored in ``raws`` under a placeholder string
    that :func:`dump_with_raws` swaps for the text.
    """
    paths = list(_paths(data))
    path = choose(chooser, paths)
    target = _get(data, path)
    parent: Any = _get(data, path[:-1]) if path else data
    where = _where(path)
    operations = ["replace-type", "replace-number", "raw"]
    if path:
        operations.append("delete")
    if isinstance(target, dict):
        operations.append("add-key")
    if isinstance(target, list) and target:
        operations += ["swap", "duplicate", "empty-list"]
    if isinstance(target, str):
        operations.append("odd-name")
    operation = choose(chooser, operations)

    def put(value: Any) -> None:
        parent[path[-1]] = value

    if operation == "delete":
        del parent[path[-1]]
        return f"delete {where}"
    if operation == "add-key":
        target[choose(chooser, (UNKNOWN_KEY, "Version", "levels ", 7))] = choose(chooser, (1, "x", None))
        return f"add an unknown key to {where}"
    if operation == "swap":
        i, j = chooser.integer(0, len(target) - 1), chooser.integer(0, len(target) - 1)
        target[i], target[j] = target[j], target[i]
        return f"swap {where}[{i}] and [{j}]"
    if operation == "duplicate":
        i = chooser.integer(0, len(target) - 1)
        target.insert(i, copy.deepcopy(target[i]))
        return f"duplicate {where}[{i}]"
    if operation == "empty-list":
        target.clear()
        return f"empty the list {where}"
    if not path:
        return "keep the root"  # replacing the whole document is a text mutation
    if operation == "odd-name":
        name = choose(chooser, ODD_NAMES)
        put(name)
        return f"set {where} = {name[:20]!r}{'...' if len(name) > 20 else ''} ({len(name):,} characters)"
    if operation == "replace-type":
        value = choose(chooser, OTHER_TYPES)
        put(copy.deepcopy(value))
        return f"set {where} = {value!r}"
    if operation == "replace-number":
        value = choose(chooser, EXTREME_NUMBERS)
        if isinstance(target, int | float) and not isinstance(target, bool) and chooser.integer(0, 2) == 0:
            value = target * choose(chooser, (2**31, 2**63, 10**12, -1, 0))
        put(value)
        shown = f"{str(value)[:12]}...({len(str(value))} digits)" if len(str(value)) > 40 else repr(value)
        return f"set {where} = {shown}"
    text, what = raw_value(chooser, target)
    key = RAW.format(len(raws))
    raws[key] = text
    put(key)
    return f"set {where} = {what} ({text[:40]!r}{'...' if len(text) > 40 else ''})"


def dump_with_raws(data: Any, raws: dict[str, str]) -> str:
    """``data`` as YAML text, with each placeholder replaced by its raw YAML."""
    text = yaml.safe_dump(data, sort_keys=False, width=10**9, allow_unicode=True)
    for key, raw in raws.items():
        text = text.replace(key, raw)
    return text


def mutate_text(chooser: Chooser, text: str, small: bool = False) -> tuple[bytes, str]:
    """One byte- or text-level mutation of a whole file (``small``: no file over 2 MB)."""
    raw = text.encode("utf-8")
    operation = choose(
        chooser,
        ("truncate", "flip", "huge-comment", "huge-list", "huge-string", "empty", "bom", "tabs", "nul"),
    )
    if operation == "truncate":
        cut = chooser.integer(0, len(raw))
        return raw[:cut], f"truncate at byte {cut}"
    if operation == "flip":
        data = bytearray(raw)
        flips = [
            (chooser.integer(0, len(data) - 1), chooser.integer(1, 255)) for _ in range(chooser.integer(1, 8))
        ]
        for index, mask in flips:
            data[index] ^= mask
        return bytes(data), f"xor bytes {flips}"
    if operation == "huge-comment":
        megabytes = 2 if small else choose(chooser, (2, 8))
        return raw + b"#" + b"x" * (megabytes << 20) + b"\n", f"append a {megabytes} MB comment"
    if operation == "huge-list":
        count = 10_000 if small else choose(chooser, (10_000, 200_000))
        return raw + b"fuzz_list: [" + b"1, " * count + b"1]\n", f"append a list of {count} items"
    if operation == "huge-string":
        megabytes = 2 if small else choose(chooser, (2, 8))
        return raw.replace(b"name: ", b"name: " + b"n" * (megabytes << 20), 1), f"a {megabytes} MB name"
    if operation == "empty":
        return choose(
            chooser, (b"", b"---\n", b"~\n", b"[]\n", b"42\n")
        ), "replace the file by a scalar/empty"
    if operation == "bom":
        return b"\xef\xbb\xbf" + raw, "prepend a UTF-8 BOM"
    if operation == "tabs":
        return raw.replace(b"  ", b"\t"), "indent with tabs"
    index = chooser.integer(0, len(raw))
    return raw[:index] + b"\x00" + raw[index:], f"insert a NUL byte at {index}"


def mutate_file(chooser: Chooser, text: str, small: bool = False) -> tuple[bytes, list[str]]:
    """One or more (rarely three) mutations of a YAML file's text; the bytes and what was done."""
    if chooser.integer(0, 4) == 0:
        content, description = mutate_text(chooser, text, small)
        return content, [description]
    data = yaml.safe_load(text)
    raws: dict[str, str] = {}
    steps = [mutate_data(chooser, data, raws) for _ in range(choose(chooser, (1, 1, 1, 2, 3)))]
    return dump_with_raws(data, raws).encode("utf-8"), steps


# --- cases ---------------------------------------------------------------------------------------------

#: Files the user owns in the folder a case runs in; a case must leave them as they were.
USER_FILES = {
    "notes.txt": "my notes\n",
    "thesis/chapter1.tex": "\\chapter{Energy}\n",
    "thesis/data/results.csv": "a,b\n1,2\n",
}


@dataclass
class Case:
    """One input to run: files to write, then an API call or a command line."""

    kind: str
    steps: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    #: The file the mutations were applied to (an error should name it).
    mutated: str = ""
    #: API: (function name, workload, hierarchy, dataflow, mapping file, layers).
    call: tuple[Any, ...] = ()
    #: Command line (relative paths, run in the case folder).
    argv: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """How to reproduce the case, in one line."""
        action = f"energysim {' '.join(map(repr, self.argv))}" if self.argv else self._call_text()
        edits = "; ".join(self.steps) or "no mutation"
        return f"[{self.kind}] {edits} -> {action}"

    def _call_text(self) -> str:
        function, workload, hierarchy, dataflow, mapping, layers = self.call
        extra = f", mapping={mapping!r}" if mapping else ""
        return f"es.{function}({workload!r}, {hierarchy!r}, {dataflow!r}{extra}, layers={layers!r})"


def hierarchy_case(chooser: Chooser, small: bool) -> Case:
    """A shipped hierarchy, mutated, analysed (or simulated) with one small layer."""
    name, text = choose(chooser, sorted(shipped_files("hierarchies").items()))
    content, steps = mutate_file(chooser, text, small)
    workload, layer = choose(chooser, SMALL_LAYERS)
    function = choose(chooser, ("analyze", "analyze", "simulate"))
    path = f"{name}-fuzz.yaml"
    call = (function, workload, path, choose(chooser, DATAFLOW_NAMES), None, [layer])
    return Case("hierarchy", steps, {path: content}, path, call)


def workload_case(chooser: Chooser, small: bool) -> Case:
    """A shipped workload, mutated, analysed (or simulated) on a shipped hierarchy."""
    files = shipped_files("workloads")
    names = ("lenet5", "lecture-ops") if small else tuple(sorted(files))
    name = choose(chooser, names)
    content, steps = mutate_file(chooser, files[name], small)
    hierarchy = choose(chooser, ("lecture-toy", "lecture-toy", "eyeriss", "edge-npu"))
    function = choose(chooser, ("analyze", "analyze", "simulate"))
    if name not in QUICK_TO_SIMULATE:
        function = "analyze"  # simulating all of ResNet-50 takes seconds unmutated: not the mutation's cost
    path = f"{name}-fuzz.yaml"
    return Case("workload", steps, {path: content}, path, (function, path, hierarchy, "ws", None, None))


def mapping_case(chooser: Chooser, small: bool) -> Case:
    """A valid mapping file, mutated, used for its layer."""
    workload, layer, hierarchy, text = choose(chooser, mapping_files())
    content, steps = mutate_file(chooser, text, small)
    function = choose(chooser, ("analyze", "analyze", "simulate"))
    path = "mapping-fuzz.yaml"
    return Case("mapping", steps, {path: content}, path, (function, workload, hierarchy, "rs", path, [layer]))


#: ``--out`` values: new folders, and places the user owns.
OUT_TARGETS = (
    None,
    "results",
    "thesis/new-results",
    ".",
    "",
    "thesis",
    "thesis/data",
    "notes.txt",
    "..",
    "o" * 300,
)


def cli_case(chooser: Chooser, small: bool) -> Case:
    """A command line: a subcommand, shipped or mutated files, odd values, and ``--out`` anywhere."""
    case = Case("cli", [])
    command = choose(chooser, ("run", "compare", "roofline", "validate", "validate", "list"))
    if command == "list":
        case.argv = ["list"]
        return case
    mutate = chooser.integer(0, 1) == 1
    workload_names = ("lenet5", "lecture-ops")
    workload: str = choose(chooser, workload_names)
    hierarchy: str = choose(chooser, ("lecture-toy", "eyeriss", "edge-npu", "v100", "tpu-like"))
    odd_paths = ("missing.yaml", "thesis", "notes.txt", "", "n" * 300 + ".yaml", "thesis/")
    if command == "validate":
        what = choose(chooser, ("hierarchies", "workloads", "mapping", "odd"))
        if what == "odd":
            case.argv = ["validate", choose(chooser, odd_paths)]
            return case
        if what == "mapping":
            _, _, hierarchy, text = choose(chooser, mapping_files())
            name = "mapping.yaml"
        else:
            name, text = choose(chooser, sorted(shipped_files(what).items()))
            name += ".yaml"
        content, steps = mutate_file(chooser, text, small) if mutate else (text.encode(), [])
        case.files, case.steps, case.mutated = {name: content}, steps, name
        case.argv = ["validate", name] + (["--hierarchy", hierarchy] if what == "mapping" else [])
        return case
    if mutate and chooser.integer(0, 1) == 0:
        content, steps = mutate_file(chooser, shipped_files("workloads")[workload], small)
        case.files[f"{workload}.yaml"], case.steps, case.mutated = content, steps, f"{workload}.yaml"
        workload += ".yaml"
    elif mutate:
        content, steps = mutate_file(chooser, shipped_files("hierarchies")[hierarchy], small)
        case.files[f"{hierarchy}.yaml"], case.steps, case.mutated = content, steps, f"{hierarchy}.yaml"
        hierarchy += ".yaml"
    elif chooser.integer(0, 3) == 0:
        odd = choose(chooser, odd_paths)
        workload, hierarchy = (odd, hierarchy) if chooser.integer(0, 1) else (workload, odd)
    case.argv = [command, workload, "--hierarchy", hierarchy]
    for _ in range(chooser.integer(0, 2)):
        case.argv += ["--layer", choose(chooser, ("c1", "f6", "psum_conv", "fc_batch1", "relu", "nope", ""))]
    if small and command != "roofline" and "--layer" not in case.argv:
        case.argv += ["--layer", "f6" if workload.startswith("lenet5") else "fc_batch1"]
    if command == "run":
        case.argv += ["--dataflow", choose(chooser, DATAFLOW_NAMES)]
    if command == "compare":
        case.argv += [
            "--dataflows",
            choose(chooser, ("rs", "ws,rs", "", ",", "xx", "rs,rs", " RS ", "ws,os,is,rs,nlr")),
        ]
    out = choose(chooser, OUT_TARGETS)
    if small and out in ("results", "thesis/new-results") and command != "compare":
        out = None  # writing every figure of run or roofline takes seconds; compare writes one
    if out is not None:
        case.argv += ["--out", out]
    case.argv += [flag for flag in ("--quiet", "--json") if chooser.integer(0, 1)]
    return case


def make_case(kind: str, chooser: Chooser, small: bool = False) -> Case:
    """A case of ``kind`` (one of :data:`KINDS`); ``small`` keeps it cheap enough for the test suite."""
    if kind == "hierarchy":
        return hierarchy_case(chooser, small)
    if kind == "workload":
        return workload_case(chooser, small)
    if kind == "mapping":
        return mapping_case(chooser, small)
    return cli_case(chooser, small)


# --- running a case ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What came of one case."""

    kind: str
    outcome: str
    case: str
    #: Exception type, where it was raised (innermost energysim frame) and its first line.
    detail: str = ""


class CaseTimeout(BaseException):
    """Raised in the case's thread when it runs past its time limit (not an ``Exception``)."""


@contextlib.contextmanager
def time_and_memory_limits(seconds: float, memory_bytes: int | None) -> Iterator[None]:
    """Raise :class:`CaseTimeout` after ``seconds``, and cap the address space ``memory_bytes`` above now.

    The time limit uses SIGALRM (main thread only): it stops loops in Python,
    not one long C call, so the benchmark also kills workers from outside.
    """

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if memory_bytes is not None:
        limit = _address_space_bytes() + memory_bytes
        resource.setrlimit(
            resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard)
        )
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _where_raised(exc: BaseException) -> str:
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "energysim" in frame.filename]
    frames = [frame for frame in frames if "/tests/" not in frame.filename] or frames
    if not frames:
        return "?"
    frame = frames[-1]
    module = frame.filename.split("energysim/")[-1] if "energysim/" in frame.filename else frame.filename
    return f"{module}:{frame.lineno} {frame.name}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]


def _field_words() -> frozenset[str]:
    """Keys of every shipped and mapping file: a message naming one names a field."""
    words = {UNKNOWN_KEY, "version", "layer", "levels", "level", "temporal", "spatial", "keeps", "layers"}
    texts = [*shipped_files("hierarchies").values(), *shipped_files("workloads").values()]
    for text in texts:
        for path in _paths(yaml.safe_load(text)):
            words.update(part for part in path if isinstance(part, str))
    return frozenset(words)


FIELD_WORDS = _field_words()
#: Problems of the whole file, where the file is the field.
WHOLE_FILE = (
    "not a UTF-8",
    "YAML syntax error",
    "file too large",
    "expected a hierarchy",
    "expected a workload",
    "expected a mapping",
    "expected a hierarchy (levels and compute)",
)


def names_file_and_field(message: str, mutated: str) -> bool:
    """True if ``message`` names the file ``mutated`` and a field (or a line, or the whole file)."""
    if mutated and mutated not in message:
        return False
    if re.search(r":\d+:\d+", message) or any(phrase in message for phrase in WHOLE_FILE):
        return True
    return any(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", message) for word in FIELD_WORDS)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in USER_FILES}


def _damaged(folder: Path, before: dict[str, bytes]) -> list[str]:
    damaged = []
    for name, content in before.items():
        path = folder / name
        try:
            if path.read_bytes() != content:
                damaged.append(f"{name} changed")
        except OSError:
            damaged.append(f"{name} gone")
    return damaged


def run_case(case: Case, folder: Path, seconds: float = 10.0, memory_bytes: int | None = 2 << 30) -> Outcome:
    """Run ``case`` in ``folder`` (which it fills with user files and its inputs); classify what happened."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in USER_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    before = {**_snapshot(folder), **case.files}
    stdout, stderr = io.StringIO(), io.StringIO()
    outcome, detail = OK, ""
    try:
        with (
            contextlib.chdir(folder),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            time_and_memory_limits(seconds, memory_bytes),
        ):
            if case.argv:
                outcome, detail = _run_cli(case.argv, stderr, case.mutated)
            else:
                _run_api(case.call)
    except CaseTimeout as exc:
        outcome, detail = HANG, f"{exc} at {_where_raised(exc)}"
    except MemoryError as exc:
        outcome, detail = MEMORY, f"MemoryError at {_where_raised(exc)}"
    except Exception as exc:  # classifying every failure is the point
        from energysim.errors import EnergySimError

        if isinstance(exc, EnergySimError) and names_file_and_field(str(exc), case.mutated):
            outcome = CLEAN
        else:
            outcome = VAGUE if isinstance(exc, EnergySimError) else TRACEBACK
        detail = f"{type(exc).__name__} at {_where_raised(exc)}: {_first_line(str(exc))}"
    damaged = _damaged(folder, before)
    if damaged:
        outcome, detail = DAMAGED, ", ".join(damaged) + (f" ({detail})" if detail else "")
    return Outcome(case.kind, outcome, case.describe(), detail)


def _run_api(call: tuple[Any, ...]) -> None:
    import energysim as es

    function, workload, hierarchy, dataflow, mapping, layers = call
    run: Callable[..., Any] = getattr(es, function)
    run(workload, hierarchy, dataflow, mapping=mapping, layers=layers)


def names_what_was_wrong(message: str, argv: list[str], mutated: str) -> bool:
    """True if a command-line error names the mutated file and a field, or an argument it was given.

    With a mutated input file the error may still rightly be about the command
    line (``--out .`` is checked before any file is read): then it must name
    that argument's value, or the option.
    """
    if mutated and mutated in message:
        return names_file_and_field(message, mutated)
    given = [arg for arg in argv if arg and arg != mutated and not arg.startswith("--")]
    options = [arg for arg in argv if arg.startswith("--")]
    return any(arg in message for arg in (*given, *options)) or not mutated


def _run_cli(argv: list[str], stderr: io.StringIO, mutated: str = "") -> tuple[str, str]:
    from energysim.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: a usage error
        code = exc.code if isinstance(exc.code, int) else 2
    lines = stderr.getvalue().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    first = _first_line(errors[0] if errors else stderr.getvalue())
    if code == 0:
        return OK, ""
    if code == 2 and lines and lines[0].startswith("energysim: error: "):
        # Several problems of one file are one error: a headline, then one "  - " line each.
        listed = all(line.startswith("  - ") for line in lines[1:])
        if not listed:
            return MULTILINE, f"{len(lines)} stderr lines: {first}"
        clear = names_what_was_wrong(stderr.getvalue(), argv, mutated)
        vague = f"names neither the file and a field nor an argument: {first}"
        return (CLEAN, first) if clear else (VAGUE, vague)
    return VAGUE, f"exit {code}, {len(lines)} stderr lines: {first}"
