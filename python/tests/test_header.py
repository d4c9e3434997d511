"""The Python copy of the C API agrees with include/flowai.h, the one reference:

- every constant named like a header enumerator (``TIMEOUT`` for ``FLOWAI_TIMEOUT``,
  ``EVENT_REPLY`` for ``FLOWAI_EVENT_REPLY``) has its value, and every result code and event
  kind of the header has its constant;
- ``ABI_VERSION`` is ``FLOWAI_ABI_VERSION`` (and ``__version__``, when the module has one, is
  ``FLOWAI_VERSION``);
- every function in ``_SIGNATURES`` is declared in the header, with ctypes types that fit
  its prototype (``restype`` and every ``argtypes`` entry, callbacks included).

Reads the header only: no library is loaded.

    PYTHONPATH=python/src python3 -m pytest python/tests/test_header.py
"""

import ctypes
import os
import re
import unittest
from ctypes import POINTER, c_char_p, c_uint32, c_void_p

HERE = os.path.dirname(os.path.abspath(__file__))


def _up_to(relative):
    """The first ``relative`` path found in this folder or one above it."""
    folder = HERE
    while True:
        candidate = os.path.join(folder, relative)
        if os.path.exists(candidate):
            return candidate
        if os.path.dirname(folder) == folder:
            raise FileNotFoundError(relative)
        folder = os.path.dirname(folder)


import flowai_socket  # noqa: E402  (the installed package, as the rest of the suite)

HEADER = _up_to(os.path.join("include", "flowai.h"))

SCALARS = {
    "uint32_t": ctypes.c_uint32,
    "int32_t": ctypes.c_int32,
    "uint64_t": ctypes.c_uint64,
    "size_t": ctypes.c_size_t,
    "double": ctypes.c_double,
}

# Constants of the module that are not copies of a header enumerator.
NOT_FROM_HEADER = {"ABI_VERSION"}


class Header:
    """What the tests need from the header: enums, defines, handle types, prototypes."""

    def __init__(self, text):
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        code = re.sub(r"//[^\n]*", "", code)
        self.defines = dict(re.findall(r"^#define (FLOWAI_\w+) (.+)$", text, flags=re.M))
        self.enums = {}
        enum = r"\benum (flowai_\w+)\s*(?:#if[^\n]*\n[^\n]*\n#endif[^\n]*\n)?\s*\{(.*?)\};"
        for name, body in re.findall(enum, code, flags=re.S):
            self.enums[name] = {k: int(v) for k, v in re.findall(r"(FLOWAI_\w+) = (\d+)", body)}
        self.handles = set(re.findall(r"typedef struct (flowai_\w+) \1;", code))
        self.callbacks = {
            name: (ret.strip(), self._args(args))
            for ret, name, args in re.findall(
                r"typedef ([^;()]+?)\s*\(\*(flowai_\w+)\)\(([^)]*)\);", code
            )
        }
        self.functions = {}
        for ret, name, args in re.findall(
            r"^(?!typedef)([A-Za-z_][\w \*]*?)\s*\b(flowai_\w+)\(([^)]*)\);", code, flags=re.M
        ):
            self.functions[name] = (ret.strip(), self._args(args))

    @staticmethod
    def _args(args):
        args = " ".join(args.split())
        if args in ("", "void"):
            return []
        # Drop the parameter's name, keep its type ("const char *client_id" -> "const char *").
        return [re.sub(r"\s*\b\w+$", "", a.strip()) for a in args.split(",")]

    def enumerators(self):
        return {k: v for values in self.enums.values() for k, v in values.items()}

    def ctype(self, c_type):
        """The ctypes type that fits a C type as this module's conventions use it."""
        c_type = " ".join(c_type.replace("*", " * ").split())
        depth = c_type.count("*")
        const = c_type.startswith("const ")
        base = c_type.replace("const ", "").replace("*", "").strip()
        if depth == 0:
            if base == "void":
                return None
            if base in self.enums:
                return c_uint32  # every enum is a uint32_t across the boundary
            if base in self.callbacks:
                return ("callback", base)
            return SCALARS[base]
        if depth == 1:
            if base == "char":
                # A borrowed string is copied by c_char_p; an owned one must stay a pointer so
                # it can be given to flowai_string_free.
                return c_char_p if const else c_void_p
            if base in self.handles or base == "void":
                return c_void_p
            return POINTER(SCALARS[base])
        if depth == 2 and (base in self.handles or base == "char"):
            return POINTER(c_void_p)
        raise AssertionError(f"no ctypes rule for the C type {c_type!r}")


def load_header():
    with open(HEADER, encoding="utf-8") as f:
        return Header(f.read())


class HeaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.header = load_header()

    def test_the_header_was_read(self):
        h = self.header
        self.assertIn("FLOWAI_TIMEOUT", h.enums["flowai_result"])
        self.assertIn("FLOWAI_EVENT_REPLY", h.enums["flowai_event_kind"])
        self.assertIn("flowai_client_recv", h.functions)
        self.assertIn("flowai_event_callback", h.callbacks)
        self.assertIn("flowai_client", h.handles)
        self.assertEqual(
            h.functions["flowai_config_new"], ("flowai_result", ["const char *", "flowai_config **"])
        )

    def test_constants_are_the_headers(self):
        enumerators = self.header.enumerators()
        for name, value in vars(flowai_socket).items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or not isinstance(value, int):
                continue
            if name in NOT_FROM_HEADER:
                continue
            c_name = "FLOWAI_" + name
            with self.subTest(constant=name):
                self.assertTrue(c_name in enumerators, f"the header has no {c_name}")
                self.assertEqual(value, enumerators[c_name])
        for enum in ("flowai_result", "flowai_event_kind"):
            for c_name, value in self.header.enums[enum].items():
                with self.subTest(enumerator=c_name):
                    self.assertEqual(getattr(flowai_socket, c_name[len("FLOWAI_"):], None), value)

    def test_versions_are_the_headers(self):
        abi = int(self.header.defines["FLOWAI_ABI_VERSION"])
        self.assertEqual(flowai_socket.ABI_VERSION, abi)
        version = getattr(flowai_socket, "__version__", None)
        if version is not None:
            self.assertEqual(f'"{version}"', self.header.defines["FLOWAI_VERSION"])

    def test_signatures_fit_the_prototypes(self):
        for name, restype, argtypes in flowai_socket._SIGNATURES:
            with self.subTest(function=name):
                self.assertTrue(name in self.header.functions, f"{name} is not in the header")
                c_ret, c_args = self.header.functions[name]
                self.assertIs(restype, self.header.ctype(c_ret), f"restype of {name}")
                self.assertEqual(len(argtypes), len(c_args), f"argument count of {name}")
                for i, (actual, c_arg) in enumerate(zip(argtypes, c_args)):
                    self.assert_fits(actual, c_arg, f"argument {i} ({c_arg}) of {name}")

    def assert_fits(self, actual, c_type, what):
        expected = self.header.ctype(c_type)
        if isinstance(expected, tuple):  # a callback: a CFUNCTYPE of the same prototype
            c_ret, c_args = self.header.callbacks[expected[1]]
            self.assertTrue(issubclass(actual, ctypes._CFuncPtr), f"{what}: not a CFUNCTYPE")
            self.assertIs(actual._restype_, self.header.ctype(c_ret), f"{what}: return type")
            self.assertEqual(actual._argtypes_, tuple(self.header.ctype(a) for a in c_args), what)
        else:
            self.assertIs(actual, expected, what)

    def test_the_checker_sees_a_wrong_signature(self):
        header = self.header
        self.assertIsNot(ctypes.c_int32, header.ctype(header.functions["flowai_abi_version"][0]))
        self.assertIsNot(c_char_p, header.ctype("char **"))
        self.assertIs(c_void_p, header.ctype("char *"))
        self.assertIs(POINTER(ctypes.c_uint64), header.ctype("uint64_t *"))


if __name__ == "__main__":
    unittest.main()
