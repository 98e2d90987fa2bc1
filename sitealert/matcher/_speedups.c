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
 *     or it refuses a name no registry issues ("my_blog.com"), which no listable target covers,
 *     so "not listed" is the full path's answer too;
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

/* One target: its cached match object, combo index and flags, and its bytes; 8-byte aligned. */
typedef struct {
    PyObject *match; /* built on first use */
    uint32_t meta;   /* combo index | RISKY */
    uint32_t len;
    char bytes[];
} Record;

#define RECORD_SIZE(len) ((sizeof(Record) + (size_t)(len) + 7) & ~(size_t)7)

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;
    char *records; /* n records, back to back */
    size_t records_size;
    uint64_t *slots; /* (hash >> 32) << 32 | (record offset / 8 + 1); 0 is empty */
    uint64_t mask;
    uint64_t depths; /* bit d: a domain target has d labels (bit 63: 63 or more) */
    PyObject *combos;
    PyObject *match_type;
    int match_is_tuple; /* match_type is a tuple subclass without extra state: build it directly */
    PyObject *undecided;
} TableObject;

static inline Record *
record_at(const TableObject *t, uint64_t slot)
{
    return (Record *)(t->records + (((uint32_t)slot - 1) * (size_t)8));
}

static inline const Record *
probe(const TableObject *t, const char *s, Py_ssize_t n, uint64_t h)
{
    uint64_t i = h & t->mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        uint64_t v = t->slots[i];
        if (v == 0)
            return NULL;
        if ((uint32_t)(v >> 32) == tag) {
            const Record *r = record_at(t, v);
            if ((Py_ssize_t)r->len == n && memcmp(r->bytes, s, (size_t)n) == 0)
                return r;
        }
        i = (i + 1) & t->mask;
    }
}

static inline int
wants_depth(const TableObject *t, int labels)
{
    return (int)((t->depths >> (labels < 63 ? labels : 63)) & 1);
}

/* Scan a host of the canonical shape (see the top comment) right to left: the start and hash of
   each suffix at a label boundary whose label count some target has, shortest first. Returns how
   many, UNDECIDED when the host is not of that shape, or TOO_MANY when more than maxc. */
#define TOO_MANY (-3)
static int
scan_host(const TableObject *t, const char *s, Py_ssize_t n, Py_ssize_t *starts, uint64_t *hashes,
          int maxc)
{
    int ncand = 0, labels;
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
            if (ncand == maxc)
                return TOO_MANY;
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
            /* i + 3 < n here: a dot and the top label follow this label */
            if (UNLIKELY(ch == 'x') && s[i + 1] == 'n' && s[i + 2] == '-' && s[i + 3] == '-')
                return UNDECIDED;
            h = (h ^ ch) * FNV_PRIME;
        }
        if (end - i - 1 < 1 || end - i - 1 > MAX_LABEL)
            return UNDECIDED;
        labels++;
        if (i < 0)
            break;
    }
    if (wants_depth(t, labels)) {
        if (ncand == maxc)
            return TOO_MANY;
        starts[ncand] = 0;
        hashes[ncand] = finish(h, n);
        ncand++;
    }
    return ncand;
}

/* Outcome for a scanned host: the record, NULL for not listed, or *undecided set. */
static const Record *
resolve_host(const TableObject *t, const char *s, Py_ssize_t n, const Py_ssize_t *starts,
             const uint64_t *hashes, int ncand, int *undecided)
{
    int c;
    for (c = 0; c < ncand; c++)
        PREFETCH(&t->slots[hashes[c] & t->mask]);
    /* most specific first: the longest suffix was recorded last */
    for (c = ncand - 1; c >= 0; c--) {
        const Record *r = probe(t, s + starts[c], n - starts[c], hashes[c]);
        if (r != NULL) {
            if (starts[c] > 0 && (r->meta & RISKY)) {
                *undecided = 1;
                return NULL;
            }
            return r;
        }
    }
    return NULL;
}

static const Record *
match_host(const TableObject *t, const char *s, Py_ssize_t n, int *undecided)
{
    Py_ssize_t starts[MAX_CANDIDATES];
    uint64_t hashes[MAX_CANDIDATES];
    int ncand = scan_host(t, s, n, starts, hashes, MAX_CANDIDATES);
    if (ncand < 0) {
        *undecided = 1;
        return NULL;
    }
    return resolve_host(t, s, n, starts, hashes, ncand, undecided);
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

/* The host of an http(s) URL the fast path may decide, or 0 (undecided): the authority runs to
   the first / \ ? #, holds no userinfo, and any port is at most 65535. */
static int
url_host(const char *s, Py_ssize_t n, Py_ssize_t start, Py_ssize_t *host_len)
{
    Py_ssize_t i, host_end = -1, end = n;
    for (i = start; i < n; i++) {
        char c = s[i];
        if (c == '/' || c == '\\' || c == '?' || c == '#') {
            end = i;
            break;
        }
        if (c == '@')
            return 0;
        if (c == ':' && host_end < 0)
            host_end = i;
    }
    if (host_end >= 0) {
        long port = 0;
        for (i = host_end + 1; i < end; i++) {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            port = port * 10 + (s[i] - '0');
            if (port > 65535)
                return 0;
        }
    }
    else {
        host_end = end;
    }
    if (is_store_host(s + start, host_end - start))
        return 0;
    *host_len = host_end - start;
    return 1;
}

/* 0 when item is not an http(s) URL, else the offset of its host (or -1: undecided URL). */
static Py_ssize_t
url_start(const char *s, Py_ssize_t n)
{
    if (n >= 7 && s[0] == 'h' && s[1] == 't' && s[2] == 't' && s[3] == 'p') {
        if (s[4] == ':' && s[5] == '/' && s[6] == '/')
            return 7;
        if (n >= 8 && s[4] == 's' && s[5] == ':' && s[6] == '/' && s[7] == '/')
            return 8;
    }
    return 0;
}

static inline int
is_fast_str(PyObject *item)
{
    return PyUnicode_CheckExact(item) && PyUnicode_IS_COMPACT_ASCII(item);
}

/* The whole decision for one item: the record, NULL (not listed), or *undecided set. */
static const Record *
classify(const TableObject *t, PyObject *item, int *undecided)
{
    const char *s;
    Py_ssize_t n, start, host_len;
    const Record *r;

    *undecided = 0;
    if (!is_fast_str(item)) {
        *undecided = 1;
        return NULL;
    }
    s = (const char *)PyUnicode_DATA(item);
    n = PyUnicode_GET_LENGTH(item);
    start = url_start(s, n);
    if (start > 0) {
        if (!url_host(s, n, start, &host_len)) {
            *undecided = 1;
            return NULL;
        }
        return match_host(t, s + start, host_len, undecided);
    }
    r = match_host(t, s, n, undecided);
    if (!*undecided)
        return r;
    *undecided = 0;
    r = probe(t, s, n, hash_bytes(s, n));
    if (r != NULL)
        return r;
    if (n > 8 && memcmp(s, "android:", 8) == 0 && is_android_package(s + 8, n - 8))
        return NULL;
    if (n > 4 && memcmp(s, "ios:", 4) == 0 && is_ios_id(s + 4, n - 4))
        return NULL;
    *undecided = 1;
    return NULL;
}

/* New reference to the match object of a record, built on first use. */
static PyObject *
match_of(TableObject *t, const Record *cr)
{
    Record *r = (Record *)cr;
    PyObject *m = r->match;
    if (m == NULL) {
        PyObject *combo, *target;
        combo = PyList_GET_ITEM(t->combos, (Py_ssize_t)(r->meta & ~RISKY));
        target = PyUnicode_FromStringAndSize(r->bytes, (Py_ssize_t)r->len);
        if (target == NULL)
            return NULL;
        if (t->match_is_tuple) {
            PyTypeObject *type = (PyTypeObject *)t->match_type;
            m = type->tp_alloc(type, 3);
            if (m == NULL) {
                Py_DECREF(target);
                return NULL;
            }
            PyTuple_SET_ITEM(m, 0, target);
            Py_INCREF(PyTuple_GET_ITEM(combo, 0));
            PyTuple_SET_ITEM(m, 1, PyTuple_GET_ITEM(combo, 0));
            Py_INCREF(PyTuple_GET_ITEM(combo, 1));
            PyTuple_SET_ITEM(m, 2, PyTuple_GET_ITEM(combo, 1));
            /* A str and two tuples of str cannot be part of a cycle; left tracked, the matches
               built on a first pass over a million items cost more in collections than to build. */
            if (PyObject_GC_IsTracked(m))
                PyObject_GC_UnTrack(m);
        }
        else {
            m = PyObject_CallFunctionObjArgs(t->match_type, target, PyTuple_GET_ITEM(combo, 0),
                                             PyTuple_GET_ITEM(combo, 1), NULL);
            Py_DECREF(target);
            if (m == NULL)
                return NULL;
        }
        r->match = m;
    }
    Py_INCREF(m);
    return m;
}

static PyObject *
result_of(TableObject *t, const Record *r, int undecided)
{
    if (r != NULL)
        return match_of(t, r);
    if (undecided) {
        Py_INCREF(t->undecided);
        return t->undecided;
    }
    Py_RETURN_NONE;
}

#define FOR_EACH_RECORD(t, r)                                                                    \
    for (size_t _off = 0; _off < (t)->records_size && ((r) = (Record *)((t)->records + _off), 1); \
         _off += RECORD_SIZE((r)->len))

static void
table_free_arrays(TableObject *t)
{
    Record *r;
    if (t->records != NULL) {
        FOR_EACH_RECORD(t, r) Py_CLEAR(r->match);
    }
    PyMem_Free(t->records);
    PyMem_Free(t->slots);
    t->records = NULL;
    t->slots = NULL;
    t->records_size = 0;
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
    Py_ssize_t n, k, ncombos, cap;
    size_t total = 0, off = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!OO", kwlist, &PyList_Type, &targets,
                                     &PyList_Type, &meta, &PyList_Type, &combos, &match_type,
                                     &undecided))
        return -1;
    n = PyList_GET_SIZE(targets);
    if (PyList_GET_SIZE(meta) != n) {
        PyErr_SetString(PyExc_ValueError, "targets and meta differ in length");
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
        if (!PyUnicode_Check(s) || !PyUnicode_IS_COMPACT_ASCII(s) || PyUnicode_GET_LENGTH(s) == 0) {
            PyErr_Format(PyExc_ValueError, "target %zd is not a non-empty ASCII str", k);
            return -1;
        }
        total += RECORD_SIZE(PyUnicode_GET_LENGTH(s));
    }
    if (total / 8 >= 0xffffffffULL) {
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
    t->records = PyMem_Calloc(total ? total : 8, 1);
    t->slots = PyMem_Calloc((size_t)cap, sizeof(uint64_t));
    if (!t->records || !t->slots) {
        table_free_arrays(t);
        PyErr_NoMemory();
        return -1;
    }
    t->mask = (uint64_t)cap - 1;
    t->depths = 0;

    for (k = 0; k < n; k++) {
        PyObject *s = PyList_GET_ITEM(targets, k);
        const char *data = (const char *)PyUnicode_DATA(s);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s), j;
        unsigned long value = PyLong_AsUnsignedLong(PyList_GET_ITEM(meta, k));
        Record *r = (Record *)(t->records + off);
        uint64_t h, i;
        int labels = 1, is_app = 0;

        if (value == (unsigned long)-1 && PyErr_Occurred())
            goto fail;
        if ((Py_ssize_t)(value & ~RISKY) >= ncombos || value > 0xffffffffUL) {
            PyErr_Format(PyExc_ValueError, "meta of target %zd names no combo", k);
            goto fail;
        }
        r->meta = (uint32_t)value;
        r->len = (uint32_t)len;
        memcpy(r->bytes, data, (size_t)len);
        for (j = 0; j < len; j++) {
            if (data[j] == '.')
                labels++;
            else if (data[j] == ':')
                is_app = 1;
        }
        if (!is_app)
            t->depths |= 1ULL << (labels < 63 ? labels : 63);
        h = hash_bytes(data, len);
        if (probe(t, data, len, h) != NULL) {
            PyErr_Format(PyExc_ValueError, "duplicate target %R", s);
            goto fail;
        }
        i = h & t->mask;
        while (t->slots[i] != 0)
            i = (i + 1) & t->mask;
        t->slots[i] = ((h >> 32) << 32) | (uint64_t)(off / 8 + 1);
        off += RECORD_SIZE(len);
        t->records_size = off;
        t->n = k + 1;
    }
    Py_INCREF(combos);
    t->combos = combos;
    Py_INCREF(match_type);
    t->match_type = match_type;
    t->match_is_tuple = PyType_Check(match_type) &&
                        PyType_IsSubtype((PyTypeObject *)match_type, &PyTuple_Type) &&
                        ((PyTypeObject *)match_type)->tp_basicsize == PyTuple_Type.tp_basicsize &&
                        ((PyTypeObject *)match_type)->tp_dictoffset == 0;
    Py_INCREF(undecided);
    t->undecided = undecided;
    return 0;

fail:
    table_free_arrays(t);
    return -1;
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
    int undecided;
    const Record *r;
    if (!table_ready(t))
        return NULL;
    r = classify(t, item, &undecided);
    return result_of(t, r, undecided);
}

/* check_many works on batches of items in stages, so that the memory accesses of different items
   overlap instead of waiting one after another: scan every item of the batch and prefetch the
   slots of its candidate suffixes; find the longest candidate whose slot carries its tag and
   prefetch that record; verify the record and prefetch its match object; build the results.
   Anything out of the ordinary (a URL, an app id, odd input, a rare tag collision) takes
   classify(), the one-item path, so both paths decide the same way. */
#define BATCH 32
#define BATCH_CANDIDATES 8

typedef struct {
    const char *s;
    Py_ssize_t n;
    int ncand; /* < 0: use classify() */
    int chosen;
    const Record *record;
    int undecided;
    Py_ssize_t starts[BATCH_CANDIDATES];
    uint64_t hashes[BATCH_CANDIDATES];
} Pending;

static void
stage_scan(const TableObject *t, PyObject *item, Pending *p)
{
    Py_ssize_t start, host_len;
    int c;

    p->ncand = -1;
    p->record = NULL;
    p->undecided = 0;
    if (!is_fast_str(item))
        return;
    p->s = (const char *)PyUnicode_DATA(item);
    p->n = PyUnicode_GET_LENGTH(item);
    start = url_start(p->s, p->n);
    if (start > 0) {
        if (!url_host(p->s, p->n, start, &host_len))
            return;
        p->s += start;
        p->n = host_len;
    }
    p->ncand = scan_host(t, p->s, p->n, p->starts, p->hashes, BATCH_CANDIDATES);
    if (p->ncand < 0) {
        p->ncand = -1;
        return;
    }
    for (c = 0; c < p->ncand; c++)
        PREFETCH(&t->slots[p->hashes[c] & t->mask]);
}

static void
stage_choose(const TableObject *t, Pending *p)
{
    int c;
    p->chosen = -1;
    for (c = p->ncand - 1; c >= 0; c--) {
        uint64_t i = p->hashes[c] & t->mask;
        uint32_t tag = (uint32_t)(p->hashes[c] >> 32);
        uint64_t v;
        while ((v = t->slots[i]) != 0) {
            if ((uint32_t)(v >> 32) == tag) {
                p->chosen = c;
                p->record = record_at(t, v);
                PREFETCH(p->record);
                return;
            }
            i = (i + 1) & t->mask;
        }
    }
}

static void
stage_verify(Pending *p)
{
    const Record *r = p->record;
    Py_ssize_t start = p->starts[p->chosen];
    if ((Py_ssize_t)r->len != p->n - start || memcmp(r->bytes, p->s + start, (size_t)r->len) != 0) {
        p->ncand = -1; /* a tag collision: let classify() walk every slot */
        p->record = NULL;
        return;
    }
    if (start > 0 && (r->meta & RISKY)) {
        p->record = NULL;
        p->undecided = 1;
        return;
    }
    if (r->match != NULL)
        PREFETCH(r->match);
}

/* check_many(items) -> (results, undecided_count) */
static PyObject *
table_check_many(TableObject *t, PyObject *items)
{
    PyObject *seq, *results;
    PyObject **src;
    Py_ssize_t n, base, undecided = 0;
    Pending pending[BATCH];

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
    for (base = 0; base < n; base += BATCH) {
        int m = (int)(n - base < BATCH ? n - base : BATCH), j;
        for (j = 0; j < m && base + BATCH + j < n; j++)
            PREFETCH(src[base + BATCH + j]);
        for (j = 0; j < m; j++)
            stage_scan(t, src[base + j], &pending[j]);
        for (j = 0; j < m; j++)
            if (pending[j].ncand > 0)
                stage_choose(t, &pending[j]);
        for (j = 0; j < m; j++)
            if (pending[j].ncand > 0 && pending[j].chosen >= 0)
                stage_verify(&pending[j]);
        for (j = 0; j < m; j++) {
            Pending *p = &pending[j];
            PyObject *r;
            if (p->ncand < 0)
                p->record = classify(t, src[base + j], &p->undecided);
            undecided += p->undecided;
            r = result_of(t, p->record, p->undecided);
            if (r == NULL) {
                Py_DECREF(results);
                Py_DECREF(seq);
                return NULL;
            }
            PyList_SET_ITEM(results, base + j, r);
        }
    }
    Py_DECREF(seq);
    return Py_BuildValue("(Nn)", results, undecided);
}

/* get(target) -> match or None: exact lookup of a canonical target, no walk. */
static PyObject *
table_get(TableObject *t, PyObject *target)
{
    const Record *r;
    const char *s;
    Py_ssize_t n;
    if (!table_ready(t))
        return NULL;
    if (!is_fast_str(target))
        Py_RETURN_NONE;
    s = (const char *)PyUnicode_DATA(target);
    n = PyUnicode_GET_LENGTH(target);
    r = probe(t, s, n, hash_bytes(s, n));
    if (r == NULL)
        Py_RETURN_NONE;
    return match_of(t, r);
}

static PyObject *
table_targets(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    PyObject *list;
    Py_ssize_t k = 0;
    Record *r;
    if (!table_ready(t))
        return NULL;
    list = PyList_New(t->n);
    if (list == NULL)
        return NULL;
    FOR_EACH_RECORD(t, r)
    {
        PyObject *s = PyUnicode_FromStringAndSize(r->bytes, (Py_ssize_t)r->len);
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k++, s);
    }
    return list;
}

static PyObject *
table_nbytes(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    if (!table_ready(t))
        return NULL;
    return PyLong_FromSize_t(t->records_size + sizeof(uint64_t) * (size_t)(t->mask + 1));
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
