/*
 * Optional accelerator for sitealert.matcher: the same decisions as sitealert/matcher/_pure.py,
 * in C. Built by `pip install` when a compiler is present (setup.py marks it optional); without
 * it the pure-Python table gives identical answers, and tests/client/test_matcher_*.py check
 * both against a reference implementation.
 *
 * A Table answers, for one item, one of three things: the index of the listed target that covers
 * it, "not listed", or "undecided" - and undecided items go to the full normalizer in Python.
 * It only decides what it can prove equal to normalize_target() followed by a walk of
 * covering_targets():
 *   - an item equal to a listed target (canonical targets are fixed points of the normalizer);
 *   - a canonical host: sitealert.hosts' own fast-path shape, (?:[a-z0-9_-]{1,63}\.)+[a-z][a-z0-9-]{0,62},
 *     at most 253 characters, no "xn--"; the normalizer returns such a name unchanged or refuses
 *     it as a public suffix, and the second can only matter under a target that has Public
 *     Suffix List rules below it (flagged RISKY by the caller; such matches stay undecided);
 *   - an "http://" or "https://" URL whose authority is such a host, optionally with a port of
 *     at most 65535, no userinfo, not a store host (store pages normalize to app targets);
 *   - a canonical "android:<package>" or "ios:<digits>" id.
 *
 * The hash table holds every target's bytes in one blob. Each suffix of a host that starts at a
 * label boundary is hashed in one right-to-left pass (FNV-1a over the reversed bytes, finished by
 * a 64-bit mixer), and only suffixes whose label count some target has are probed; their slots are
 * prefetched together so the memory latencies overlap.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define RISKY 0x80000000u
#define MAX_HOST 253
#define MAX_LABEL 63
#define MAX_CANDIDATES 130 /* 253 characters hold at most 127 labels */

#define MISS (-1)
#define UNDECIDED (-2)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 1)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PREFETCH(p) ((void)0)
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* 1: [a-z0-9-] (any label)   2: '_' (not in the top label)   4: [a-z] */
static unsigned char char_class[256];

static void
init_char_class(void)
{
    int c;
    for (c = 'a'; c <= 'z'; c++)
        char_class[c] = 1 | 4;
    for (c = '0'; c <= '9'; c++)
        char_class[c] = 1;
    char_class['-'] = 1;
    char_class['_'] = 2;
}

static inline uint64_t
mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t
finish(uint64_t h, Py_ssize_t len)
{
    return mix64(h ^ (uint64_t)len);
}

static uint64_t
hash_bytes(const char *s, Py_ssize_t n)
{
    uint64_t h = FNV_OFFSET;
    Py_ssize_t i;
    for (i = n - 1; i >= 0; i--)
        h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return finish(h, n);
}

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    char *blob;
    uint32_t *offsets; /* n + 1 */
    uint32_t *meta;    /* combo index, | RISKY */
    uint64_t *slots;   /* (hash >> 32) << 32 | (index + 1); 0 is empty */
    uint64_t mask;
    uint64_t depths; /* bit d: a domain target has d labels (bit 63: 63 or more) */
    PyObject **cache; /* lazily built match objects */
    PyObject *combos;
    PyObject *match_type;
    PyObject *undecided;
} TableObject;

static inline Py_ssize_t
probe(const TableObject *t, const char *s, Py_ssize_t n, uint64_t h)
{
    uint64_t i = h & t->mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        uint64_t v = t->slots[i];
        if (v == 0)
            return MISS;
        if ((uint32_t)(v >> 32) == tag) {
            uint32_t k = (uint32_t)v - 1;
            uint32_t off = t->offsets[k];
            if ((Py_ssize_t)(t->offsets[k + 1] - off) == n && memcmp(t->blob + off, s, (size_t)n) == 0)
                return (Py_ssize_t)k;
        }
        i = (i + 1) & t->mask;
    }
}

static inline int
wants_depth(const TableObject *t, int labels)
{
    return (int)((t->depths >> (labels < 63 ? labels : 63)) & 1);
}

/* A canonical host (see the top comment): index of the most specific listed target covering it,
   MISS, or UNDECIDED when it is not of that shape or the match needs the full normalizer. */
static Py_ssize_t
match_host(const TableObject *t, const char *s, Py_ssize_t n)
{
    Py_ssize_t starts[MAX_CANDIDATES];
    uint64_t hashes[MAX_CANDIDATES];
    int ncand = 0, labels = 0, c;
    uint64_t h = FNV_OFFSET;
    Py_ssize_t i, end;

    if (n < 3 || n > MAX_HOST)
        return UNDECIDED;
    /* the top label: [a-z][a-z0-9-]{0,62} */
    for (i = n - 1; i >= 0 && s[i] != '.'; i--) {
        unsigned char ch = (unsigned char)s[i];
        if (!(char_class[ch] & 1))
            return UNDECIDED;
        if (UNLIKELY(ch == 'x') && i + 3 < n && s[i + 1] == 'n' && s[i + 2] == '-' && s[i + 3] == '-')
            return UNDECIDED;
        h = (h ^ ch) * FNV_PRIME;
    }
    if (i < 0 || n - 1 - i > MAX_LABEL || !(char_class[(unsigned char)s[i + 1]] & 4))
        return UNDECIDED;
    labels = 1;
    for (;;) {
        /* s[i] is a dot: the suffix s[i+1:] has `labels` labels */
        if (wants_depth(t, labels)) {
            starts[ncand] = i + 1;
            hashes[ncand] = finish(h, n - i - 1);
            ncand++;
        }
        h = (h ^ '.') * FNV_PRIME;
        end = i;
        for (i = i - 1; i >= 0 && s[i] != '.'; i--) {
            unsigned char ch = (unsigned char)s[i];
            if (!(char_class[ch] & 3))
                return UNDECIDED;
            if (UNLIKELY(ch == 'x') && s[i + 1] == 'n' && s[i + 2] == '-' && s[i + 3] == '-')
                return UNDECIDED; /* i + 3 < n: a dot and the top label follow */
            h = (h ^ ch) * FNV_PRIME;
        }
        if (end - i - 1 < 1 || end - i - 1 > MAX_LABEL)
            return UNDECIDED;
        labels++;
        if (i < 0)
            break;
    }
    if (wants_depth(t, labels)) {
        starts[ncand] = 0;
        hashes[ncand] = finish(h, n);
        ncand++;
    }
    for (c = 0; c < ncand; c++)
        PREFETCH(&t->slots[hashes[c] & t->mask]);
    /* most specific first: the longest suffix was recorded last */
    for (c = ncand - 1; c >= 0; c--) {
        Py_ssize_t k = probe(t, s + starts[c], n - starts[c], hashes[c]);
        if (k >= 0) {
            if (starts[c] > 0 && (t->meta[k] & RISKY))
                return UNDECIDED;
            return k;
        }
    }
    return MISS;
}

static inline int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* sitealert.hosts.apps: [A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+ */
static int
is_android_package(const char *s, Py_ssize_t n)
{
    Py_ssize_t i;
    int segments = 0, at_start = 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (at_start) {
            if (!is_alpha(c))
                return 0;
            at_start = 0;
            segments++;
        }
        else if (c == '.') {
            at_start = 1;
        }
        else if (!(is_alpha(c) || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return !at_start && segments >= 2;
}

/* "ios:%d" % int(digits): 1 to 20 digits, no leading zero */
static int
is_ios_id(const char *s, Py_ssize_t n)
{
    Py_ssize_t i;
    if (n < 1 || n > 20 || s[0] == '0')
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int
is_store_host(const char *s, Py_ssize_t n)
{
    return (n == 15 && memcmp(s, "play.google.com", 15) == 0) ||
           (n == 14 && memcmp(s, "apps.apple.com", 14) == 0) ||
           (n == 16 && memcmp(s, "itunes.apple.com", 16) == 0);
}

static Py_ssize_t
match_url(const TableObject *t, const char *s, Py_ssize_t n, Py_ssize_t start)
{
    Py_ssize_t i, host_end = -1, end = n;
    for (i = start; i < n; i++) {
        char c = s[i];
        if (c == '/' || c == '\\' || c == '?' || c == '#') {
            end = i;
            break;
        }
        if (c == '@')
            return UNDECIDED;
        if (c == ':' && host_end < 0)
            host_end = i;
    }
    if (host_end >= 0) {
        long port = 0;
        for (i = host_end + 1; i < end; i++) {
            if (s[i] < '0' || s[i] > '9')
                return UNDECIDED;
            port = port * 10 + (s[i] - '0');
            if (port > 65535)
                return UNDECIDED;
        }
    }
    else {
        host_end = end;
    }
    if (is_store_host(s + start, host_end - start))
        return UNDECIDED;
    return match_host(t, s + start, host_end - start);
}

static Py_ssize_t
match_exact(const TableObject *t, const char *s, Py_ssize_t n)
{
    return probe(t, s, n, hash_bytes(s, n));
}

static Py_ssize_t
classify(const TableObject *t, PyObject *item)
{
    const char *s;
    Py_ssize_t n, k;

    if (!PyUnicode_CheckExact(item) || !PyUnicode_IS_COMPACT_ASCII(item))
        return UNDECIDED;
    s = (const char *)PyUnicode_DATA(item);
    n = PyUnicode_GET_LENGTH(item);
    if (n >= 7 && s[0] == 'h' && memcmp(s, "http", 4) == 0) {
        if (memcmp(s + 4, "://", 3) == 0)
            return match_url(t, s, n, 7);
        if (n >= 8 && memcmp(s + 4, "s://", 4) == 0)
            return match_url(t, s, n, 8);
    }
    k = match_host(t, s, n);
    if (k != UNDECIDED)
        return k;
    k = match_exact(t, s, n);
    if (k >= 0)
        return k;
    if (n > 8 && memcmp(s, "android:", 8) == 0 && is_android_package(s + 8, n - 8))
        return MISS;
    if (n > 4 && memcmp(s, "ios:", 4) == 0 && is_ios_id(s + 4, n - 4))
        return MISS;
    return UNDECIDED;
}

static PyObject *
target_str(const TableObject *t, Py_ssize_t k)
{
    uint32_t off = t->offsets[k];
    return PyUnicode_FromStringAndSize(t->blob + off, (Py_ssize_t)(t->offsets[k + 1] - off));
}

/* New reference to the match object of target k, built on first use. */
static PyObject *
match_of(TableObject *t, Py_ssize_t k)
{
    PyObject *m = t->cache[k];
    if (m == NULL) {
        PyObject *combo, *target;
        combo = PyList_GET_ITEM(t->combos, (Py_ssize_t)(t->meta[k] & ~RISKY));
        target = target_str(t, k);
        if (target == NULL)
            return NULL;
        m = PyObject_CallFunctionObjArgs(t->match_type, target, PyTuple_GET_ITEM(combo, 0),
                                         PyTuple_GET_ITEM(combo, 1), NULL);
        Py_DECREF(target);
        if (m == NULL)
            return NULL;
        t->cache[k] = m;
    }
    Py_INCREF(m);
    return m;
}

static PyObject *
result_of(TableObject *t, Py_ssize_t k)
{
    if (k >= 0)
        return match_of(t, k);
    if (k == MISS)
        Py_RETURN_NONE;
    Py_INCREF(t->undecided);
    return t->undecided;
}

static void
table_free_arrays(TableObject *t)
{
    Py_ssize_t k;
    if (t->cache != NULL) {
        for (k = 0; k < t->n; k++)
            Py_XDECREF(t->cache[k]);
    }
    PyMem_Free(t->cache);
    PyMem_Free(t->blob);
    PyMem_Free(t->offsets);
    PyMem_Free(t->meta);
    PyMem_Free(t->slots);
    t->cache = NULL;
    t->blob = NULL;
    t->offsets = NULL;
    t->meta = NULL;
    t->slots = NULL;
    t->n = 0;
}

static void
table_dealloc(TableObject *t)
{
    table_free_arrays(t);
    Py_XDECREF(t->combos);
    Py_XDECREF(t->match_type);
    Py_XDECREF(t->undecided);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* Table(targets, meta, combos, match_type, undecided)
   targets: list of distinct ASCII str; meta: list of int (combo index, | RISKY);
   combos: list of (countries, categories) tuples; match_type(target, countries, categories). */
static int
table_init(TableObject *t, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"targets", "meta", "combos", "match_type", "undecided", NULL};
    PyObject *targets, *meta, *combos, *match_type, *undecided;
    Py_ssize_t n, k, total = 0, ncombos, cap;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!OO", kwlist, &PyList_Type, &targets,
                                     &PyList_Type, &meta, &PyList_Type, &combos, &match_type,
                                     &undecided))
        return -1;
    n = PyList_GET_SIZE(targets);
    if (PyList_GET_SIZE(meta) != n) {
        PyErr_SetString(PyExc_ValueError, "targets and meta differ in length");
        return -1;
    }
    if (n >= 0x7fffffff) {
        PyErr_SetString(PyExc_OverflowError, "too many targets");
        return -1;
    }
    ncombos = PyList_GET_SIZE(combos);
    for (k = 0; k < ncombos; k++) {
        PyObject *combo = PyList_GET_ITEM(combos, k);
        if (!PyTuple_Check(combo) || PyTuple_GET_SIZE(combo) != 2) {
            PyErr_SetString(PyExc_TypeError, "each combo must be a (countries, categories) tuple");
            return -1;
        }
    }
    for (k = 0; k < n; k++) {
        PyObject *s = PyList_GET_ITEM(targets, k);
        if (!PyUnicode_Check(s) || !PyUnicode_IS_COMPACT_ASCII(s)) {
            PyErr_Format(PyExc_ValueError, "target %zd is not an ASCII str", k);
            return -1;
        }
        total += PyUnicode_GET_LENGTH(s);
    }
    if (total >= 0xffffffffLL) {
        PyErr_SetString(PyExc_OverflowError, "targets too long in total");
        return -1;
    }

    table_free_arrays(t);
    Py_CLEAR(t->combos);
    Py_CLEAR(t->match_type);
    Py_CLEAR(t->undecided);

    cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    t->blob = PyMem_Malloc((size_t)(total ? total : 1));
    t->offsets = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n + 1));
    t->meta = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    t->slots = PyMem_Calloc((size_t)cap, sizeof(uint64_t));
    t->cache = PyMem_Calloc((size_t)(n ? n : 1), sizeof(PyObject *));
    if (!t->blob || !t->offsets || !t->meta || !t->slots || !t->cache) {
        table_free_arrays(t);
        PyErr_NoMemory();
        return -1;
    }
    t->mask = (uint64_t)cap - 1;
    t->depths = 0;

    total = 0;
    for (k = 0; k < n; k++) {
        PyObject *s = PyList_GET_ITEM(targets, k);
        PyObject *m = PyList_GET_ITEM(meta, k);
        const char *data = (const char *)PyUnicode_DATA(s);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s), j;
        unsigned long value = PyLong_AsUnsignedLong(m);
        uint64_t h, i;
        int labels = 1, is_app = 0;

        if (value == (unsigned long)-1 && PyErr_Occurred()) {
            t->n = k;
            table_free_arrays(t);
            return -1;
        }
        if ((Py_ssize_t)(value & ~RISKY) >= ncombos || value > 0xffffffffUL) {
            t->n = k;
            table_free_arrays(t);
            PyErr_Format(PyExc_ValueError, "meta of target %zd names no combo", k);
            return -1;
        }
        t->offsets[k] = (uint32_t)total;
        t->meta[k] = (uint32_t)value;
        memcpy(t->blob + total, data, (size_t)len);
        total += len;
        for (j = 0; j < len; j++) {
            if (data[j] == '.')
                labels++;
            else if (data[j] == ':')
                is_app = 1;
        }
        if (!is_app)
            t->depths |= 1ULL << (labels < 63 ? labels : 63);
        h = hash_bytes(data, len);
        i = h & t->mask;
        while (t->slots[i] != 0) {
            uint32_t other = (uint32_t)t->slots[i] - 1;
            if ((uint32_t)(t->slots[i] >> 32) == (uint32_t)(h >> 32) &&
                t->offsets[other + 1] - t->offsets[other] == (uint32_t)len &&
                memcmp(t->blob + t->offsets[other], data, (size_t)len) == 0) {
                t->n = k;
                table_free_arrays(t);
                PyErr_Format(PyExc_ValueError, "duplicate target %R", s);
                return -1;
            }
            i = (i + 1) & t->mask;
        }
        t->slots[i] = ((h >> 32) << 32) | (uint64_t)(k + 1);
    }
    t->offsets[n] = (uint32_t)total;
    t->n = n;
    Py_INCREF(combos);
    t->combos = combos;
    Py_INCREF(match_type);
    t->match_type = match_type;
    Py_INCREF(undecided);
    t->undecided = undecided;
    return 0;
}

static int
table_ready(TableObject *t)
{
    if (t->slots == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Table was not initialized");
        return 0;
    }
    return 1;
}

static PyObject *
table_check(TableObject *t, PyObject *item)
{
    if (!table_ready(t))
        return NULL;
    return result_of(t, classify(t, item));
}

/* check_many(items) -> (results, undecided_count) */
static PyObject *
table_check_many(TableObject *t, PyObject *items)
{
    PyObject *seq, *results, *answer;
    PyObject **src;
    Py_ssize_t n, i, undecided = 0;

    if (!table_ready(t))
        return NULL;
    seq = PySequence_Fast(items, "check_many() needs a sequence");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    src = PySequence_Fast_ITEMS(seq);
    results = PyList_New(n);
    if (results == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        Py_ssize_t k = classify(t, src[i]);
        PyObject *r;
        if (k == UNDECIDED)
            undecided++;
        r = result_of(t, k);
        if (r == NULL) {
            Py_DECREF(results);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(results, i, r);
    }
    Py_DECREF(seq);
    answer = Py_BuildValue("(Nn)", results, undecided);
    return answer;
}

/* get(target) -> match or None: exact lookup of a canonical target, no walk. */
static PyObject *
table_get(TableObject *t, PyObject *target)
{
    Py_ssize_t k;
    if (!table_ready(t))
        return NULL;
    if (!PyUnicode_CheckExact(target) || !PyUnicode_IS_COMPACT_ASCII(target))
        Py_RETURN_NONE;
    k = match_exact(t, (const char *)PyUnicode_DATA(target), PyUnicode_GET_LENGTH(target));
    if (k < 0)
        Py_RETURN_NONE;
    return match_of(t, k);
}

static PyObject *
table_targets(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    PyObject *list;
    Py_ssize_t k;
    if (!table_ready(t))
        return NULL;
    list = PyList_New(t->n);
    if (list == NULL)
        return NULL;
    for (k = 0; k < t->n; k++) {
        PyObject *s = target_str(t, k);
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, s);
    }
    return list;
}

static PyObject *
table_nbytes(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    size_t total;
    if (!table_ready(t))
        return NULL;
    total = (size_t)t->offsets[t->n] + sizeof(uint32_t) * (size_t)(2 * t->n + 1) +
            sizeof(uint64_t) * (size_t)(t->mask + 1) + sizeof(PyObject *) * (size_t)t->n;
    return PyLong_FromSize_t(total);
}

static Py_ssize_t
table_len(TableObject *t)
{
    return t->n;
}

static PyMethodDef table_methods[] = {
    {"check", (PyCFunction)table_check, METH_O,
     "check(item) -> match, None, or the undecided sentinel"},
    {"check_many", (PyCFunction)table_check_many, METH_O,
     "check_many(items) -> (list of match/None/undecided, number undecided)"},
    {"get", (PyCFunction)table_get, METH_O, "get(target) -> match of exactly this target, or None"},
    {"targets", (PyCFunction)table_targets, METH_NOARGS, "targets() -> list of the targets, in build order"},
    {"nbytes", (PyCFunction)table_nbytes, METH_NOARGS,
     "nbytes() -> bytes held by the table's arrays (not counting built match objects)"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {
    .sq_length = (lenfunc)table_len,
};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sitealert.matcher._speedups.Table",
    .tp_basicsize = sizeof(TableObject),
    .tp_dealloc = (destructor)table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Hash table of canonical targets with the matcher's fast decisions (see _pure.Table).",
    .tp_methods = table_methods,
    .tp_as_sequence = &table_as_sequence,
    .tp_init = (initproc)table_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sitealert.matcher._speedups",
    .m_doc = "C implementation of sitealert.matcher._pure.Table.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *m;
    init_char_class();
    if (PyType_Ready(&TableType) < 0)
        return NULL;
    m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
