"""Model files: skops only, never pickle, with one trust policy for every load.

A model file comes from the project's code, so on a pull request it is attacker-controlled. A
skops file is a zip holding ``schema.json``, a tree of nodes that each name a type
(``__module__`` + ``__class__``) and the skops loader (``__loader__``) that rebuilds it. Before
skops runs anything, mlci reads ``schema.json`` itself, walks every node (``content``, ``attrs``,
``args``, ``key_types``, nested dicts and lists) and accepts the file only if every node passes:

* **Loaders.** Only the loaders in ``_LOADER_NAMES`` may run, each carrying only its own names
  (a sparse matrix must come from ``SparseMatrixNode``, a loss constructor from ``LossNode``...).
  ``MethodNode`` (``getattr`` of a name from the file: CVE-2025-54413), ``OperatorFuncNode``
  (``operator.<name>`` called with arguments from the file: CVE-2025-54412), ``CachedNode``
  (never written by ``skops.io.dump``) and any loader mlci does not know are refused outright:
  ``evaluation.trusted_types`` cannot allow them.
* **Names, by exact name, never by prefix.** Accepted without configuration:

  - scikit-learn estimators: a class ``sklearn.<module>.<Class>`` that really is defined in that
    module and subclasses ``sklearn.base.BaseEstimator`` (mlci imports the scikit-learn module
    to check; test, vendored and private-tooling modules are not imported);
  - the numpy, scipy and scikit-learn-internal classes that fitted estimators hold (``_CLASSES``,
    taken from what ``skops.io.dump`` writes for a battery of stock scikit-learn models, see
    tests/worker/test_modelio.py), and Python's builtin *types* (``int``, ``str``, ``dict``...);
  - three *functions* scikit-learn itself stores in a fitted estimator when the user passed no
    callable (``_FUNCTIONS``). Every other function is refused, ``builtins.eval``, ``exec``,
    ``getattr``, ``open`` or ``__import__`` included, and so are numpy ufuncs such as
    ``numpy.log1p`` in a ``FunctionTransformer``, although skops trusts ufuncs by default: a name
    from the file decides what gets called, and mlci does not bet on a family of callables.

  Any other name is refused unless ``evaluation.trusted_types`` in the trusted configuration
  (mlci.yaml on the base branch) lists it exactly. A listed name is the project's own decision:
  mlci accepts it (in any of the loaders above), whether or not it is a class.
* **Consistency.** skops reuses the first node it built for an ``__id__``; nodes sharing an id must
  agree (loader, name, and the value of a JSON leaf), and a ``numpy.random.Generator`` may only
  name a numpy bit generator, so what skops builds is what mlci checked.

Then skops' own audit (``skops.io.get_untrusted_types``) must agree, and the file is loaded from
the bytes mlci checked, with ``trusted=`` exactly the names skops reports, each one verified.

Not covered by a type policy: the *content* of accepted types. Trees (``sklearn.tree._tree.Tree``,
``TreePredictor``), neighbors trees and libsvm models index their arrays without bounds checks,
so a crafted file can still crash (or read out of bounds in) the process that predicts with it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import skops.io
from sklearn.base import BaseEstimator

from mlci_action.errors import StageFailure

_SAVE_HINT = "save the model with skops.io.dump(model, path)"
_TRUST_HINT = (
    "if you trust them, list them under evaluation.trusted_types in mlci.yaml on the base branch "
    "(the trusted configuration)"
)

# --- the allow-list, by exact name -----------------------------------------------------------
# Builtin *types*; a builtin function (eval, exec, getattr, open, __import__, len, ...) is never
# in here.
_BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in (
        "bool",
        "bytearray",
        "bytes",
        "complex",
        "dict",
        "float",
        "frozenset",
        "int",
        "list",
        "set",
        "slice",
        "str",
        "tuple",
    )
)
# numpy scalar types, numpy 2 and numpy 1 spellings (an array's dtype, a scalar attribute).
_NUMPY_SCALARS = frozenset(
    f"numpy.{name}"
    for name in (
        "bool",
        "bool_",
        "bytes_",
        "clongdouble",
        "complex64",
        "complex128",
        "complex256",
        "datetime64",
        "float16",
        "float32",
        "float64",
        "float128",
        "int8",
        "int16",
        "int32",
        "int64",
        "intc",
        "longdouble",
        "longlong",
        "object_",
        "str_",
        "timedelta64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintc",
        "ulonglong",
        "void",
    )
)
_MASKED_ARRAYS = frozenset({"numpy.ma.MaskedArray", "numpy.ma.core.MaskedArray"})
_BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})
# scipy's sparse formats that scipy.sparse.save_npz (so skops) writes: an SVC fitted on sparse
# input, a sparsified linear model.
_SPARSE = frozenset(
    f"scipy.sparse._{fmt}.{fmt}_{kind}"
    for fmt in ("bsr", "coo", "csc", "csr", "dia")
    for kind in ("array", "matrix")
)
_LOSSES = (
    "AbsoluteError",
    "ExponentialLoss",
    "HalfBinomialLoss",
    "HalfGammaLoss",
    "HalfMultinomialLoss",
    "HalfPoissonLoss",
    "HalfSquaredError",
    "HalfTweedieLoss",
    "HalfTweedieLossIdentity",
    "HuberLoss",
    "PinballLoss",
)
"""scikit-learn's loss families: each a Python class and a Cython one (``Cy`` prefix)."""
# The Cython losses skops rebuilds with LossNode (SGD*, GradientBoosting*, GLMs); Huber, Log and
# SquaredLoss are scikit-learn < 1.6's.
_CY_LOSSES = frozenset(
    [
        *(f"sklearn._loss._loss.Cy{name}" for name in _LOSSES),
        *(
            f"sklearn.linear_model._sgd_fast.{name}"
            for name in (
                "EpsilonInsensitive",
                "Hinge",
                "Huber",
                "Log",
                "ModifiedHuber",
                "SquaredEpsilonInsensitive",
                "SquaredHinge",
                "SquaredLoss",
            )
        ),
    ]
)
_TREE = "sklearn.tree._tree.Tree"
_BUNCH = "sklearn.utils._bunch.Bunch"
_IMPUTER_TRIPLET = "sklearn.impute._iterative._ImputerTriplet"  # a namedtuple (IterativeImputer)
# Objects that skops rebuilds with ObjectNode (``cls.__new__`` + ``__setstate__``/``__dict__``)
# and that are not BaseEstimator subclasses.
_OBJECTS = frozenset(
    [
        # HistGradientBoosting*
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # the loss and link objects of HistGradientBoosting*, GradientBoosting*, GLMs
        *(f"sklearn._loss.loss.{name}" for name in _LOSSES),
        *(
            f"sklearn._loss.link.{name}"
            for name in (
                "HalfLogitLink",
                "IdentityLink",
                "Interval",
                "LogLink",
                "LogitLink",
                "MultinomialLogit",
            )
        ),
        # KNeighbors*, NearestNeighbors, LocalOutlierFactor, KernelDensity: the tree and its
        # metric (PyFuncDistance, a Python callable, is left out)
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._kd_tree.KDTree64",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._ball_tree.BallTree64",
        *(
            f"sklearn.metrics._dist_metrics.{name}Distance64"
            for name in (
                "BrayCurtis",
                "Canberra",
                "Chebyshev",
                "Dice",
                "Euclidean",
                "Hamming",
                "Haversine",
                "Jaccard",
                "Kulsinski",
                "Mahalanobis",
                "Manhattan",
                "Matching",
                "Minkowski",
                "RogersTanimoto",
                "RussellRao",
                "SEuclidean",
                "SokalMichener",
                "SokalSneath",
            )
        ),
        # MLP* (solver adam, sgd)
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # CalibratedClassifierCV
        "sklearn.calibration._CalibratedClassifier",
        # GridSearchCV / RandomizedSearchCV: the splitter scikit-learn picks for cv=<int>, and the
        # default scorer (a scoring= string holds a metric *function*: list it)
        "sklearn.model_selection._split.KFold",
        "sklearn.model_selection._split.StratifiedKFold",
        "sklearn.metrics._scorer._PassthroughScorer",
        # GaussianProcess*: the kernels
        *(
            f"sklearn.gaussian_process.kernels.{name}"
            for name in (
                "ConstantKernel",
                "DotProduct",
                "ExpSineSquared",
                "Exponentiation",
                "Matern",
                "Product",
                "RBF",
                "RationalQuadratic",
                "Sum",
                "WhiteKernel",
            )
        ),
        # SplineTransformer
        "scipy.interpolate._bsplines.BSpline",
    ]
)
# The only functions accepted without configuration: scikit-learn stores them itself.
_FUNCTIONS = frozenset(
    {
        # HistGradientBoosting* with categorical features: functools.partial(check_array, ...)
        "sklearn.utils.validation.check_array",
        # SelectKBest / SelectPercentile / GenericUnivariateSelect: the default score_func
        "sklearn.feature_selection._univariate_selection.f_classif",
        # SplineTransformer: the BSpline's array namespace function (scipy's vendored copy)
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
    }
)
_PARTIAL = "functools.partial"
# Every class of the allow-list: a TypeNode (a reference to a class, which skops or the estimator
# may call) can name any of them.
_CLASSES = (
    _BUILTIN_TYPES
    | _NUMPY_SCALARS
    | _MASKED_ARRAYS
    | _SPARSE
    | _CY_LOSSES
    | _OBJECTS
    | {
        "collections.OrderedDict",
        "collections.defaultdict",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        _TREE,
        _BUNCH,
        _IMPUTER_TRIPLET,
    }
)
# The skops loaders mlci lets run, each with the names it may carry unless trusted_types lists
# them; what each one executes is in skops.io._general/_numpy/_scipy/_sklearn.
_LOADER_NAMES: dict[str, frozenset[str]] = {
    # json.loads of the content; the name is not used
    "JsonNode": _BUILTIN_TYPES | {"builtins.NoneType"},
    # containers: the named type is called with the items (DictNode: with no argument)
    "DictNode": frozenset({"builtins.dict", "collections.OrderedDict", _BUNCH}),
    "DefaultDictNode": frozenset({"collections.defaultdict"}),
    "ListNode": frozenset({"builtins.list"}),
    "SetNode": frozenset({"builtins.set"}),
    # a namedtuple class is called with the items
    "TupleNode": frozenset({"builtins.tuple", _IMPUTER_TRIPLET}),
    "SliceNode": frozenset({"builtins.slice"}),
    "BytesNode": frozenset({"builtins.bytes"}),
    "BytearrayNode": frozenset({"builtins.bytearray"}),
    # np.load(allow_pickle=False); a scalar type is called with the array
    "NdArrayNode": _NUMPY_SCALARS | {"numpy.ndarray"},
    "MaskedArrayNode": _MASKED_ARRAYS,
    "DTypeNode": frozenset({"numpy.dtype"}),
    # the named type is called, then .set_state() / with bit_generator=
    "RandomStateNode": frozenset({"numpy.random.mtrand.RandomState"}),
    "RandomGeneratorNode": frozenset({"numpy.random._generator.Generator"}),
    # scipy.sparse.load_npz (allow_pickle=False); the name is not used
    "SparseMatrixNode": _SPARSE,
    # Tree(*args) whatever the name; a loss: the *named* class is called with args from the file
    "TreeNode": frozenset({_TREE}),
    "LossNode": _CY_LOSSES,
    # functools.partial(func, *args, **kwds), never a subclass; func is a node of its own
    "PartialNode": frozenset({_PARTIAL}),
    # getattr(import_module(module), name): a function
    "FunctionNode": _FUNCTIONS,
    # getattr(import_module(module), name): a class, which skops or the estimator may call
    "TypeNode": _CLASSES,
    # cls.__new__(cls), then __setstate__(attrs) or __dict__.update(attrs)
    "ObjectNode": _OBJECTS,
    # the named type called with args from the file (datetime.timezone, ZoneInfo): only what
    # trusted_types lists
    "ConstructorFromReduceNode": frozenset(),
}
# ... and these also accept a scikit-learn estimator class (see _is_estimator_class)
_ESTIMATOR_LOADERS = frozenset({"TypeNode", "ObjectNode"})
_AUTO_TRUSTED = frozenset().union(*_LOADER_NAMES.values())
# Loaders that mlci never lets run, whatever trusted_types says.
_NEVER = {
    "MethodNode": "a bound method: getattr(object, <name from the file>), CVE-2025-54413",
    "OperatorFuncNode": "operator.<name from the file>(*args), CVE-2025-54412",
    "CachedNode": "a reference to another node, which skops.io.dump never writes",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# scikit-learn modules that mlci does not import to check a name: tests, vendored code, tooling.
_NOT_IMPORTED = frozenset({"conftest", "externals", "_build_utils", "_testing", "_mocking"})


def save_model(model: object, path: str | Path) -> Path:
    """Write ``model`` with skops; readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        skops.io.dump(model, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_auto_trusted(type_name: str) -> bool:
    """Whether mlci accepts ``type_name`` without it being listed in ``trusted_types``.

    True for a scikit-learn estimator class and for the exact names of the allow-list (classes,
    builtin *types*, and the few functions scikit-learn stores itself); never by prefix. A file is
    also checked node by node: an accepted name is accepted only where its own loader uses it.
    """
    return type_name in _AUTO_TRUSTED or _is_estimator_class(type_name)


def untrusted_types(
    path: str | Path, trusted_types: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """(types skops reports as untrusted, those of them mlci's policy refuses).

    mlci's own pass over ``schema.json`` comes first; when it refuses names, skops is not asked
    and both lists are those names. A file no configuration can make acceptable (a refused
    loader, inconsistent nodes) raises a :class:`StageFailure`.
    """
    path = Path(path)
    _check_file(path)
    found, refused = _audit(path, _read(path), frozenset(trusted_types))
    return found, refused


def load_model(path: str | Path, trusted_types: Sequence[str] = ()) -> object:
    """Load a skops model file under mlci's trust policy; a :class:`StageFailure` if refused."""
    path = Path(path)
    _check_file(path)
    data = _read(path)  # what is checked is what is loaded
    found, refused = _audit(path, data, frozenset(trusted_types))
    if refused:
        raise StageFailure(
            f"{path}: the model file holds types mlci does not trust: {', '.join(refused)}",
            hint=_TRUST_HINT,
        )
    try:
        return skops.io.loads(data, trusted=found)
    except Exception as exc:  # a crafted file can make skops or numpy raise anything
        raise _unreadable(path, exc) from None


def _audit(path: Path, data: bytes, trusted: frozenset[str]) -> tuple[list[str], list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except Exception as exc:  # zip, JSON, recursion, unsupported compression ...
        raise _unreadable(path, exc) from None
    refused, never = _check_schema(schema, trusted)
    if never:
        shown = never if len(never) <= 10 else [*never[:10], f"and {len(never) - 10} more"]
        raise StageFailure(
            f"{path}: the model file holds objects mlci never loads: {'; '.join(shown)}",
            hint="evaluation.trusted_types cannot allow these; " + _SAVE_HINT,
        )
    if refused:
        return refused, refused
    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    # skops' audit must agree: a name it reports (e.g. a bit generator) is checked as well
    return found, [name for name in found if name not in trusted and not is_auto_trusted(name)]


def _check_schema(schema: object, trusted: frozenset[str]) -> tuple[list[str], list[str]]:
    """(names refused by the policy, problems no configuration can fix), over every node."""
    refused: set[str] = set()
    never: dict[str, None] = {}  # ordered, no duplicates
    first: dict[int, tuple[object, ...]] = {}
    for node in _nodes(schema):
        loader, module, cls = node.get("__loader__"), node.get("__module__"), node.get("__class__")
        if not (isinstance(loader, str) and isinstance(module, str) and isinstance(cls, str)):
            never[f"a malformed node ({_short(node)})"] = None
            continue
        name = f"{module}.{cls}"
        node_id = node.get("__id__")
        if node_id is not None:
            if not isinstance(node_id, int) or isinstance(node_id, bool):
                never[f"{name}: a malformed __id__ {_short(node_id)}"] = None
                continue
            # skops builds one node per __id__ and reuses it: duplicates must be the same thing
            key = (loader, name, node.get("content") if loader == "JsonNode" else None)
            if first.setdefault(node_id, key) != key:
                never[f"{name}: __id__ {node_id} also names another node"] = None
                continue
        if loader in _NEVER:
            if loader == "MethodNode":
                content = node.get("content")
                func = content.get("func") if isinstance(content, dict) else None
                name = f"{name}.{func}"
            never[f"{name} ({loader}: {_NEVER[loader]})"] = None
            continue
        if loader not in _LOADER_NAMES:
            never[f"{name} (skops loader {loader!r}, unknown to mlci)"] = None
            continue
        names = [name]
        content = node.get("content")
        if loader == "FunctionNode" and isinstance(content, dict):
            # protocol 0: the function is named by the content, not by __module__/__class__
            names.append(f"{content.get('module_path')}.{content.get('function')}")
        for each in names:
            if each not in trusted and not _allowed(loader, each):
                refused.add(each)
        problem = _bit_generator_problem(loader, node)
        if problem:
            never[f"{name}: {problem}"] = None
    return sorted(refused), list(never)


def _nodes(schema: object) -> Iterator[dict[str, Any]]:
    """Every dict of the schema that declares a loader, however deep (no recursion)."""
    stack = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
            if "__loader__" in value:
                yield value


def _allowed(loader: str, name: str) -> bool:
    if name in _LOADER_NAMES[loader]:
        return True
    return loader in _ESTIMATOR_LOADERS and _is_estimator_class(name)


def _bit_generator_problem(loader: str, node: dict[str, Any]) -> str | None:
    """numpy.random.Generator calls ``getattr(numpy.random, <name in the file>)``: a bit generator.

    The name sits in a plain dict entry (``{"bit_generator": "PCG64", ...}``) that skops' audit
    did not see before skops 0.16. Any such entry is checked, wherever it is, since skops may
    rebuild a Generator from another node with the same ``__id__``.
    """
    content = node.get("content")
    if loader == "RandomGeneratorNode":
        state = content.get("bit_generator") if isinstance(content, dict) else None
        if isinstance(state, dict) and "__loader__" not in state:  # protocol 0: a plain dict
            bit_generator: object = state.get("bit_generator")
        elif isinstance(state, dict) and isinstance(state.get("content"), dict):
            bit_generator = _json_leaf(state["content"].get("bit_generator"))
        else:
            bit_generator = None
    elif loader == "DictNode" and isinstance(content, dict) and "bit_generator" in content:
        bit_generator = _json_leaf(content["bit_generator"])
    else:
        return None
    if isinstance(bit_generator, str) and bit_generator in _BIT_GENERATORS:
        return None
    return f"a numpy.random.Generator whose bit generator is {_short(bit_generator)}"


def _json_leaf(node: object) -> object:
    if not isinstance(node, dict) or node.get("__loader__") != "JsonNode":
        return None
    try:
        return json.loads(node["content"])
    except (KeyError, TypeError, ValueError, RecursionError):
        return None


@functools.lru_cache(maxsize=4096)
def _is_estimator_class(name: str) -> bool:
    """``sklearn.<module>.<Class>``: a class defined in that module, a BaseEstimator subclass.

    The module is imported if need be (nothing else from the file is called); scikit-learn's
    tests, vendored code and test tooling are not.
    """
    module_name, _, class_name = name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != "sklearn" or not _IDENTIFIER.match(class_name):
        return False
    for part in parts[1:]:
        if not _IDENTIFIER.match(part) or part.startswith(("test", "__")) or part in _NOT_IMPORTED:
            return False
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except Exception:
            return False
    candidate = vars(module).get(class_name)  # no module __getattr__: defined there, or nothing
    return (
        inspect.isclass(candidate)
        and candidate.__module__ == module_name
        and candidate.__name__ == class_name
        and issubclass(candidate, BaseEstimator)
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_file(path: Path) -> None:
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise StageFailure(f"{path}: model file {what}", hint=_SAVE_HINT)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: BaseException) -> StageFailure:
    hint = _SAVE_HINT
    try:
        with path.open("rb") as handle:
            if handle.read(1) == b"\x80":
                hint = (
                    "this looks like a pickle (or joblib) file; mlci loads skops files only: "
                    + hint
                )
    except OSError:
        pass
    detail = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, json.JSONDecodeError):
        detail = f"schema.json is not valid JSON ({exc.msg})"
    return StageFailure(
        f"{path}: cannot read the model file as skops: {exc.__class__.__name__}: {detail}",
        hint=hint,
    )
