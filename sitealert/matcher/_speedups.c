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
 * The table works on generation files in place (see generation.py: records sorted by target and an
 * open-addressing slot array, memory-mapped and shared by every process that opens them), a base
 * and an optional overlay whose entries and tombstones override it. Each suffix of a host that starts at a
 * label boundary is hashed in one right-to-left pass (FNV-1a over the reversed bytes, finished by
 * a 64-bit mixer), and only suffixes whose label count some target has are probed; their slots are
 * prefetched together so the memory latencies overlap.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if !defined(_WIN32)
#include <sys/mman.h>
#include <unistd.h>
#endif

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
#define RISKY 0x80000000u
#define MAX_HOST 253
#define MAX_LABEL 63
#define MAX_CANDIDATES 130 /* 253 characters hold at most 127 labels */

#define UNDECIDED (-2)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 1)
#define PREFETCH_WRITE(p) __builtin_prefetch((p), 1, 1)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PREFETCH(p) ((void)0)
#define PREFETCH_WRITE(p) ((void)0)
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


/* A generation file (sitealert/matcher/generation.py writes it; little-endian, 8-byte aligned):
   a 128-byte header, the records sorted by target, the slot array, the combos (JSON). A Table
   works on the file's bytes in place (an mmap, shared by every process that opens it): nothing
   is copied, and the match object of a record is built on first use into a per-process cache
   (a small hash map: a process's memory follows the matches it answers with). */
#define HEADER_SIZE 128
#define MAGIC "SAREPLIC"
#define TOMBSTONE 0x40000000u
#define COMBO_MASK 0x3fffffffu

/* One target: combo index | RISKY | TOMBSTONE, first listed (epoch seconds, 0: unknown), its bytes. */
typedef struct {
    uint32_t meta;
    uint32_t first;
    uint16_t len;
    char bytes[];
} Record;

#define RECORD_HEAD 10
#define RECORD_SIZE(len) ((RECORD_HEAD + (size_t)(len) + 7) & ~(size_t)7)

struct CacheEntry {
    uint32_t key; /* record offset / 8 + 1; 0: empty */
    PyObject *match;
};

/* One generation file seen through a buffer. */
typedef struct {
    Py_buffer view;
    int has_view;
    int mapped; /* the buffer is an mmap of the file: pages a full pass has read can be let go */
    const char *records;
    size_t records_size;
    const uint64_t *slots; /* (hash >> 32) << 32 | (record offset / 8 + 1); 0 is empty */
    uint64_t mask;
    uint64_t count; /* records in this file (tombstones included) */
    uint64_t total; /* entries of the list this file stands for (base: count; overlay: base ⊕ it) */
    uint64_t depths;
    /* match objects built so far: an open-addressing map from record offset / 8 + 1 to the
       object, so that a process's memory grows with the matches it has answered with, not with
       the list (a table indexed by offset would touch a page per hit across the whole list) */
    struct CacheEntry *cache;
    size_t cache_mask; /* capacity - 1 */
    size_t cache_used;
} Part;

typedef struct {
    PyObject_HEAD
    Part base;
    Part overlay;
    int has_overlay;
    /* One bit per value of a hash's tag bits (masked), set for each record of the overlay: most
       candidates are in no overlay, and this answers so from the cache, where the overlay's own
       slots (up to a sixteenth of the list's) would cost a trip to memory per candidate. */
    uint64_t *overlay_filter;
    uint64_t filter_mask;
    uint64_t depths; /* bit d: a domain target has d labels (bit 63: 63 or more) */
    PyObject *combos;
    PyObject *match_type;
    int match_is_tuple; /* match_type is a tuple subclass without extra state: build it directly */
    PyObject *undecided;
} TableObject;

static inline uint64_t
read_u64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* the format is little-endian; so is every platform CPython builds this for */
    return v;
}

/* Set up a Part over a generation file's bytes; -1 with ValueError when the layout is impossible. */
static int
part_open(Part *p, PyObject *source)
{
    const char *b;
    uint64_t size, records_off, records_size, slots_off, cap;
    memset(p, 0, sizeof(*p));
    if (PyObject_GetBuffer(source, &p->view, PyBUF_SIMPLE) < 0)
        return -1;
    p->has_view = 1;
    p->mapped = strcmp(Py_TYPE(source)->tp_name, "mmap.mmap") == 0;
    b = (const char *)p->view.buf;
    size = (uint64_t)p->view.len;
    if (size < HEADER_SIZE || memcmp(b, MAGIC, 8) != 0 || ((uintptr_t)b & 7) != 0) {
        PyErr_SetString(PyExc_ValueError, "not a generation file (or not 8-byte aligned)");
        return -1;
    }
    p->count = read_u64(b + 16);
    p->total = read_u64(b + 24);
    records_off = read_u64(b + 32);
    records_size = read_u64(b + 40);
    slots_off = read_u64(b + 48);
    cap = read_u64(b + 56);
    p->depths = read_u64(b + 80);
    if (records_off != HEADER_SIZE || records_size > size - HEADER_SIZE || records_size % 8 ||
        slots_off < records_off + records_size || slots_off % 8 || cap == 0 || (cap & (cap - 1)) ||
        cap > (size - slots_off) / 8 || cap <= p->count || records_size / 8 >= 0xffffffffULL) {
        PyErr_SetString(PyExc_ValueError, "a generation file's sections do not fit in it");
        return -1;
    }
    p->records = b + records_off;
    p->records_size = (size_t)records_size;
    p->slots = (const uint64_t *)(b + slots_off);
    p->mask = cap - 1;
    return 0;
}

static void
part_close(Part *p)
{
    if (p->cache != NULL) {
        size_t k;
        for (k = 0; k <= p->cache_mask; k++)
            Py_XDECREF(p->cache[k].match);
        PyMem_Free(p->cache);
        p->cache = NULL;
        p->cache_mask = p->cache_used = 0;
    }
    if (p->has_view) {
        PyBuffer_Release(&p->view);
        p->has_view = 0;
    }
    p->records = NULL;
    p->slots = NULL;
}

/* The record a slot names, its head inside the file; its bytes are not read (record_fits reads them). */
static inline const Record *
record_head(const Part *p, uint64_t slot)
{
    size_t off = ((uint32_t)slot - 1) * (size_t)8;
    if (UNLIKELY(off + RECORD_HEAD > p->records_size))
        return NULL;
    return (const Record *)(p->records + off);
}

static inline int
record_fits(const Part *p, const Record *r)
{
    return LIKELY((size_t)((const char *)r - p->records) + RECORD_SIZE(r->len) <= p->records_size);
}

/* The record a slot names, or NULL when a damaged file points outside its records. */
static inline const Record *
record_at(const Part *p, uint64_t slot)
{
    const Record *r = record_head(p, slot);
    return r != NULL && record_fits(p, r) ? r : NULL;
}

static inline const Record *
probe_part(const Part *p, const char *s, Py_ssize_t n, uint64_t h)
{
    uint64_t i = h & p->mask, steps = 0;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        uint64_t v = p->slots[i];
        if (v == 0)
            return NULL;
        if ((uint32_t)(v >> 32) == tag) {
            const Record *r = record_at(p, v);
            if (r != NULL && (Py_ssize_t)r->len == n && memcmp(r->bytes, s, (size_t)n) == 0)
                return r;
        }
        i = (i + 1) & p->mask;
        if (UNLIKELY(++steps > p->mask)) /* a damaged file without an empty slot */
            return NULL;
    }
}

/* Whether the overlay may hold a record of hash h (0: it certainly does not). */
static inline int
overlay_may_hold(const TableObject *t, uint64_t h)
{
    uint64_t bit = (h >> 32) & t->filter_mask;
    return t->has_overlay && ((t->overlay_filter[bit >> 6] >> (bit & 63)) & 1);
}

/* The live record of exactly s (the overlay first: its entries and tombstones override the base). */
static inline const Record *
probe(const TableObject *t, const char *s, Py_ssize_t n, uint64_t h)
{
    if (overlay_may_hold(t, h)) {
        const Record *r = probe_part(&t->overlay, s, n, h);
        if (r != NULL)
            return (r->meta & TOMBSTONE) ? NULL : r;
    }
    return probe_part(&t->base, s, n, h);
}

/* The overlay's verdict on s: 1 and *r set (NULL for a tombstone) when the overlay decides it. */
static inline int
overlay_decides(const TableObject *t, const char *s, Py_ssize_t n, uint64_t h, const Record **r)
{
    const Record *o;
    if (!overlay_may_hold(t, h))
        return 0;
    o = probe_part(&t->overlay, s, n, h);
    if (o == NULL)
        return 0;
    *r = (o->meta & TOMBSTONE) ? NULL : o;
    return 1;
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
        PREFETCH(&t->base.slots[hashes[c] & t->base.mask]);
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

static inline size_t
cache_hash(uint32_t key)
{
    return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> 17);
}

static inline struct CacheEntry *
cache_find(const Part *p, uint32_t key)
{
    size_t i = cache_hash(key) & p->cache_mask;
    while (p->cache[i].key != 0 && p->cache[i].key != key)
        i = (i + 1) & p->cache_mask;
    return &p->cache[i];
}

/* Keep match (a reference is stolen) for key; -1 with MemoryError. */
static int
cache_put(Part *p, uint32_t key, PyObject *match)
{
    if (p->cache == NULL || 2 * (p->cache_used + 1) > p->cache_mask + 1) {
        size_t capacity = p->cache == NULL ? 1024 : 2 * (p->cache_mask + 1), k;
        struct CacheEntry *old = p->cache, *grown = PyMem_Calloc(capacity, sizeof(struct CacheEntry));
        size_t old_capacity = old == NULL ? 0 : p->cache_mask + 1;
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        p->cache = grown;
        p->cache_mask = capacity - 1;
        for (k = 0; k < old_capacity; k++)
            if (old[k].key != 0)
                *cache_find(p, old[k].key) = old[k];
        PyMem_Free(old);
    }
    {
        struct CacheEntry *e = cache_find(p, key);
        e->key = key;
        e->match = match;
    }
    p->cache_used++;
    return 0;
}

/* New reference to the match object of a record, built on first use and kept in its part's cache. */
static PyObject *
match_of(TableObject *t, const Record *r)
{
    Part *p = (t->has_overlay && (const char *)r >= t->overlay.records &&
               (const char *)r < t->overlay.records + t->overlay.records_size)
                  ? &t->overlay
                  : &t->base;
    size_t slot = (size_t)((const char *)r - p->records) / 8;
    Py_ssize_t combo_index = (Py_ssize_t)(r->meta & COMBO_MASK);
    PyObject *m, *combo, *target;
    uint32_t key;

    key = (uint32_t)(slot + 1);
    if (p->cache != NULL) {
        struct CacheEntry *e = cache_find(p, key);
        if (e->key == key) {
            Py_INCREF(e->match);
            return e->match;
        }
    }
    if (combo_index >= PyList_GET_SIZE(t->combos)) {
        PyErr_SetString(PyExc_ValueError, "a record of the generation file names no combo (damaged file)");
        return NULL;
    }
    combo = PyList_GET_ITEM(t->combos, combo_index);
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
    if (cache_put(p, key, m) < 0) {
        Py_DECREF(m);
        return NULL;
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

static void
table_clear(TableObject *t)
{
    part_close(&t->base);
    part_close(&t->overlay);
    t->has_overlay = 0;
    PyMem_Free(t->overlay_filter);
    t->overlay_filter = NULL;
    t->filter_mask = 0;
    Py_CLEAR(t->combos);
    Py_CLEAR(t->match_type);
    Py_CLEAR(t->undecided);
}

static void
table_dealloc(TableObject *t)
{
    table_clear(t);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* The overlay's filter (overlay_may_hold): 16 bits per record, from the tags in its slots. */
static int
filter_build(TableObject *t)
{
    uint64_t bits = 4096, k;
    while (bits < 16 * t->overlay.count && bits < ((uint64_t)1 << 32))
        bits <<= 1;
    t->overlay_filter = PyMem_Calloc((size_t)(bits / 64), sizeof(uint64_t));
    if (t->overlay_filter == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->filter_mask = bits - 1;
    for (k = 0; k <= t->overlay.mask; k++) {
        uint64_t v = t->overlay.slots[k], bit = (v >> 32) & t->filter_mask;
        if (v != 0)
            t->overlay_filter[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
    return 0;
}

/* Table(base, overlay, combos, match_type, undecided)
   base: a generation file's bytes (an mmap, bytes...); overlay: another (entries and tombstones
   that override the base) or None; combos: list of (countries, categories) tuples that the
   records' combo indexes name; match_type(target, countries, categories). */
static int
table_init(TableObject *t, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"base", "overlay", "combos", "match_type", "undecided", NULL};
    PyObject *base, *overlay, *combos, *match_type, *undecided;
    Py_ssize_t k, ncombos;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!OO", kwlist, &base, &overlay, &PyList_Type, &combos,
                                     &match_type, &undecided))
        return -1;
    ncombos = PyList_GET_SIZE(combos);
    for (k = 0; k < ncombos; k++) {
        PyObject *combo = PyList_GET_ITEM(combos, k);
        if (!PyTuple_Check(combo) || PyTuple_GET_SIZE(combo) != 2) {
            PyErr_SetString(PyExc_TypeError, "each combo must be a (countries, categories) tuple");
            return -1;
        }
    }
    table_clear(t);
    if (part_open(&t->base, base) < 0)
        goto fail;
    if (overlay != Py_None) {
        if (part_open(&t->overlay, overlay) < 0 || filter_build(t) < 0)
            goto fail;
        t->has_overlay = 1;
    }
    t->depths = t->base.depths | (t->has_overlay ? t->overlay.depths : 0);
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
    table_clear(t);
    return -1;
}

static int
table_ready(TableObject *t)
{
    if (t->base.slots == NULL) {
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
   slots of its candidate suffixes (and the overlay's, where its filter does not rule them out);
   find the longest candidate whose slot carries its tag and prefetch that record and its cache
   entry (the slot names both) without reading either yet; verify the record, find the
   cached match object and prefetch it; build the results. Meanwhile the items of the next batch
   are prefetched, the first two cache lines of each: a str's characters start 48 bytes into the
   object, so a host's run into the second line.
   Anything out of the ordinary (a URL, an app id, odd input, a rare tag collision) takes
   classify(), the one-item path, so both paths decide the same way. The overlay is asked first
   for each candidate its filter lets through, exactly. */
#define BATCH 32
#define BATCH_CANDIDATES 8

typedef struct {
    const char *s;
    Py_ssize_t n;
    int ncand; /* < 0: use classify() */
    int chosen;
    const Record *record;
    PyObject *match; /* the record's match object when the cache holds it (borrowed) */
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
    p->match = NULL;
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
    for (c = 0; c < p->ncand; c++) {
        PREFETCH(&t->base.slots[p->hashes[c] & t->base.mask]);
        if (overlay_may_hold(t, p->hashes[c]))
            PREFETCH(&t->overlay.slots[p->hashes[c] & t->overlay.mask]);
    }
}

static void
stage_choose(const TableObject *t, Pending *p)
{
    int c;
    p->chosen = -1;
    for (c = p->ncand - 1; c >= 0; c--) {
        uint64_t i = p->hashes[c] & t->base.mask;
        uint32_t tag = (uint32_t)(p->hashes[c] >> 32);
        uint64_t v;
        const Record *o;
        if (overlay_decides(t, p->s + p->starts[c], p->n - p->starts[c], p->hashes[c], &o)) {
            if (o == NULL)
                continue; /* no longer listed: a shorter suffix may be */
            p->chosen = c;
            p->record = o;
            return;
        }
        while ((v = t->base.slots[i]) != 0) {
            if ((uint32_t)(v >> 32) == tag) {
                p->chosen = c;
                /* Only its place: reading its length here would wait for the memory that the
                   prefetch below asks for (a stall per listed item); stage_verify checks it. */
                p->record = record_head(&t->base, v);
                if (p->record == NULL) {
                    p->ncand = -1;
                    return;
                }
                PREFETCH(p->record);
                /* the slot names the record's cache key too: fetch both at once */
                if (t->base.cache != NULL)
                    PREFETCH(&t->base.cache[cache_hash((uint32_t)v) & t->base.cache_mask]);
                return;
            }
            i = (i + 1) & t->base.mask;
        }
    }
}

/* The base record's match object when the cache already holds it: prefetched for writing (the
   result takes a reference). A record of the overlay (small, in cache) is left to match_of(). */
static void
stage_match(const TableObject *t, Pending *p)
{
    const Part *part = &t->base;
    const char *r = (const char *)p->record;
    struct CacheEntry *e;
    uint32_t key;
    if (part->cache == NULL || r < part->records || r >= part->records + part->records_size)
        return;
    key = (uint32_t)((r - part->records) / 8 + 1);
    e = cache_find(part, key);
    if (e->key == key) {
        p->match = e->match;
        PREFETCH_WRITE(e->match);
    }
}

static void
stage_verify(const TableObject *t, Pending *p)
{
    const Record *r = p->record;
    Py_ssize_t start = p->starts[p->chosen];
    const char *at = (const char *)r;
    if (at >= t->base.records && at < t->base.records + t->base.records_size && !record_fits(&t->base, r)) {
        p->ncand = -1; /* a damaged file: classify() refuses it as the one-item path does */
        p->record = NULL;
        return;
    }
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
    stage_match(t, p);
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
        for (j = 0; j < m && base + BATCH + j < n; j++) {
            PREFETCH(src[base + BATCH + j]);
            PREFETCH((const char *)src[base + BATCH + j] + 64);
        }
        for (j = 0; j < m; j++)
            stage_scan(t, src[base + j], &pending[j]);
        for (j = 0; j < m; j++)
            if (pending[j].ncand > 0)
                stage_choose(t, &pending[j]);
        for (j = 0; j < m; j++)
            if (pending[j].ncand > 0 && pending[j].chosen >= 0)
                stage_verify(t, &pending[j]);
        for (j = 0; j < m; j++) {
            Pending *p = &pending[j];
            PyObject *r;
            if (p->ncand < 0)
                p->record = classify(t, src[base + j], &p->undecided);
            undecided += p->undecided;
            if (p->match != NULL) {
                Py_INCREF(p->match);
                PyList_SET_ITEM(results, base + j, p->match);
                continue;
            }
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

static const Record *
exact(TableObject *t, PyObject *target)
{
    const char *s;
    Py_ssize_t n;
    if (!is_fast_str(target))
        return NULL;
    s = (const char *)PyUnicode_DATA(target);
    n = PyUnicode_GET_LENGTH(target);
    return probe(t, s, n, hash_bytes(s, n));
}

/* get(target) -> match or None: exact lookup of a canonical target, no walk. */
static PyObject *
table_get(TableObject *t, PyObject *target)
{
    const Record *r;
    if (!table_ready(t))
        return NULL;
    r = exact(t, target);
    if (r == NULL)
        Py_RETURN_NONE;
    return match_of(t, r);
}

/* record(target) -> (meta, first) of exactly this target, or None. */
static PyObject *
table_record(TableObject *t, PyObject *target)
{
    const Record *r;
    if (!table_ready(t))
        return NULL;
    r = exact(t, target);
    if (r == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(kk)", (unsigned long)r->meta, (unsigned long)r->first);
}

/* The records of base ⊕ overlay in target order: the overlay's record wins a tie, tombstones drop. */
typedef struct {
    const Part *base, *overlay;
    size_t bo, oo;
    int damaged;
    int keep_tombstones; /* merging two overlays: the newer one's tombstones stay */
} Merge;

static const Record *
record_at_offset(const Part *p, size_t off, int *damaged)
{
    const Record *r;
    if (p == NULL || off >= p->records_size)
        return NULL;
    if (off + RECORD_HEAD > p->records_size) {
        *damaged = 1;
        return NULL;
    }
    r = (const Record *)(p->records + off);
    if (off + RECORD_SIZE(r->len) > p->records_size) {
        *damaged = 1;
        return NULL;
    }
    return r;
}

static inline int
record_cmp(const Record *a, const Record *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c != 0)
        return c;
    return (int)a->len - (int)b->len;
}

static const Record *
merge_next(Merge *m)
{
    for (;;) {
        const Record *b = record_at_offset(m->base, m->bo, &m->damaged);
        const Record *o = record_at_offset(m->overlay, m->oo, &m->damaged);
        int c;
        if (m->damaged || (b == NULL && o == NULL))
            return NULL;
        c = o == NULL ? -1 : b == NULL ? 1 : record_cmp(b, o);
        if (c < 0) {
            m->bo += RECORD_SIZE(b->len);
            return b;
        }
        if (c == 0)
            m->bo += RECORD_SIZE(b->len);
        m->oo += RECORD_SIZE(o->len);
        if (!(o->meta & TOMBSTONE) || m->keep_tombstones)
            return o;
    }
}

static void
merge_start(const TableObject *t, Merge *m)
{
    m->base = &t->base;
    m->overlay = t->has_overlay ? &t->overlay : NULL;
    m->bo = m->oo = 0;
    m->damaged = 0;
    m->keep_tombstones = 0;
}

static PyObject *
damaged_error(void)
{
    PyErr_SetString(PyExc_ValueError, "a record runs past the end of its generation file (damaged file)");
    return NULL;
}

/* targets() -> the listed targets, sorted */
static PyObject *
table_targets(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    PyObject *list;
    const Record *r;
    Merge m;
    if (!table_ready(t))
        return NULL;
    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    merge_start(t, &m);
    while ((r = merge_next(&m)) != NULL) {
        PyObject *s = PyUnicode_FromStringAndSize(r->bytes, (Py_ssize_t)r->len);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    if (m.damaged) {
        Py_DECREF(list);
        return damaged_error();
    }
    return list;
}

/* feed(callback, records, chunk[, keep_tombstones]) -> count: calls callback(bytes) with about
   chunk bytes at a time of the merged list, as "target\n" lines (records false: what the SPEC
   checksum hashes) or as the records themselves (records true: a compacted generation's record
   section; with keep_tombstones, the overlay's tombstones too: two overlays merged into one). */
/* After a full pass has read a mapped part's records up to `upto`, let the process's page tables
   drop those pages (MADV_DONTNEED on a read-only shared file mapping only unmaps them: the page
   cache keeps them, and a later access maps them again), so that a pass over ten million
   records does not leave the whole file in this process's resident set. */
static void
release_read(const Part *p, size_t *released, size_t upto)
{
#if !defined(_WIN32) && defined(MADV_DONTNEED)
    static size_t page = 0;
    uintptr_t from, to;
    if (!p->mapped || upto <= *released)
        return;
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    from = ((uintptr_t)(p->records + *released) + page - 1) & ~(uintptr_t)(page - 1);
    to = (uintptr_t)(p->records + upto) & ~(uintptr_t)(page - 1);
    if (to > from)
        madvise((void *)from, (size_t)(to - from), MADV_DONTNEED);
    *released = upto;
#else
    (void)p;
    (void)released;
    (void)upto;
#endif
}

static PyObject *
table_feed(TableObject *t, PyObject *args)
{
    PyObject *callback;
    int as_records, keep_tombstones = 0;
    Py_ssize_t chunk, used = 0, count = 0;
    size_t released = 0;
    char *buffer;
    const Record *r;
    Merge m;

    if (!table_ready(t) || !PyArg_ParseTuple(args, "Opn|p", &callback, &as_records, &chunk, &keep_tombstones))
        return NULL;
    if (chunk < 1024)
        chunk = 1024;
    buffer = PyMem_Malloc((size_t)chunk + 65536 + 16);
    if (buffer == NULL)
        return PyErr_NoMemory();
    merge_start(t, &m);
    m.keep_tombstones = keep_tombstones;
    for (;;) {
        r = merge_next(&m);
        if (r != NULL) {
            if (as_records) {
                size_t size = RECORD_SIZE(r->len);
                memcpy(buffer + used, r, size);
                used += (Py_ssize_t)size;
            }
            else {
                memcpy(buffer + used, r->bytes, r->len);
                used += r->len;
                buffer[used++] = '\n';
            }
            count++;
        }
        if (used >= chunk || (r == NULL && used > 0)) {
            PyObject *out = PyObject_CallFunction(callback, "y#", buffer, used);
            used = 0;
            if (out == NULL) {
                PyMem_Free(buffer);
                return NULL;
            }
            Py_DECREF(out);
            release_read(&t->base, &released, m.bo);
        }
        if (r == NULL)
            break;
    }
    PyMem_Free(buffer);
    if (m.damaged)
        return damaged_error();
    return PyLong_FromSsize_t(count);
}

static PyObject *
table_nbytes(TableObject *t, PyObject *Py_UNUSED(ignored))
{
    size_t n;
    if (!table_ready(t))
        return NULL;
    n = t->base.records_size + sizeof(uint64_t) * (size_t)(t->base.mask + 1);
    if (t->has_overlay)
        n += t->overlay.records_size + sizeof(uint64_t) * (size_t)(t->overlay.mask + 1);
    return PyLong_FromSize_t(n);
}

static Py_ssize_t
table_len(TableObject *t)
{
    if (t->base.slots == NULL)
        return 0;
    return (Py_ssize_t)(t->has_overlay ? t->overlay.total : t->base.total);
}

static PyMethodDef table_methods[] = {
    {"check", (PyCFunction)table_check, METH_O,
     "check(item) -> match, None, or the undecided sentinel"},
    {"check_many", (PyCFunction)table_check_many, METH_O,
     "check_many(items) -> (list of match/None/undecided, number undecided)"},
    {"get", (PyCFunction)table_get, METH_O, "get(target) -> match of exactly this target, or None"},
    {"record", (PyCFunction)table_record, METH_O,
     "record(target) -> (meta, first_listed) of exactly this target, or None"},
    {"targets", (PyCFunction)table_targets, METH_NOARGS, "targets() -> list of the targets, sorted"},
    {"feed", (PyCFunction)table_feed, METH_VARARGS,
     "feed(callback, records, chunk) -> count: the merged list in chunks of bytes"},
    {"nbytes", (PyCFunction)table_nbytes, METH_NOARGS,
     "nbytes() -> bytes of the generation files' records and slots (mapped, not copied)"},
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
    .tp_doc = "Hash table of canonical targets over generation files, with the matcher's fast decisions "
              "(see _pure.Table).",
    .tp_methods = table_methods,
    .tp_as_sequence = &table_as_sequence,
    .tp_init = (initproc)table_init,
    .tp_new = PyType_GenericNew,
};

/* encode(targets, metas, firsts) -> bytes: the records of a generation file, in the order given. */
static PyObject *
encode_records(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *targets, *metas, *firsts, *out;
    Py_ssize_t n, k;
    size_t total = 0, off = 0;
    char *dst;

    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &targets, &PyList_Type, &metas, &PyList_Type, &firsts))
        return NULL;
    n = PyList_GET_SIZE(targets);
    if (PyList_GET_SIZE(metas) != n || PyList_GET_SIZE(firsts) != n) {
        PyErr_SetString(PyExc_ValueError, "targets, metas and firsts differ in length");
        return NULL;
    }
    for (k = 0; k < n; k++) {
        PyObject *s = PyList_GET_ITEM(targets, k);
        if (!PyUnicode_Check(s) || !PyUnicode_IS_COMPACT_ASCII(s) || PyUnicode_GET_LENGTH(s) == 0 ||
            PyUnicode_GET_LENGTH(s) > 0xffff) {
            PyErr_Format(PyExc_ValueError, "target %R is not a non-empty ASCII str", s);
            return NULL;
        }
        total += RECORD_SIZE(PyUnicode_GET_LENGTH(s));
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (out == NULL)
        return NULL;
    dst = PyBytes_AS_STRING(out);
    memset(dst, 0, total);
    for (k = 0; k < n; k++) {
        PyObject *s = PyList_GET_ITEM(targets, k);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s);
        unsigned long meta = PyLong_AsUnsignedLong(PyList_GET_ITEM(metas, k));
        unsigned long first = PyLong_AsUnsignedLong(PyList_GET_ITEM(firsts, k));
        Record *r = (Record *)(dst + off);
        if (PyErr_Occurred() || meta > 0xffffffffUL || first > 0xffffffffUL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_OverflowError, "meta or first listed time out of range");
            Py_DECREF(out);
            return NULL;
        }
        r->meta = (uint32_t)meta;
        r->first = (uint32_t)first;
        r->len = (uint16_t)len;
        memcpy(r->bytes, PyUnicode_DATA(s), (size_t)len);
        off += RECORD_SIZE(len);
    }
    return out;
}

/* Unmap the pages of a read-only shared file mapping in [from, to) (rounded inwards to pages):
   the page cache keeps them and a later access maps them again. For buffers that are such a
   mapping only: on anonymous memory MADV_DONTNEED would discard the contents. */
static void
release_mapped(const char *from, const char *to)
{
#if !defined(_WIN32) && defined(MADV_DONTNEED)
    static size_t page = 0;
    uintptr_t a, b;
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    a = ((uintptr_t)from + page - 1) & ~(uintptr_t)(page - 1);
    b = (uintptr_t)to & ~(uintptr_t)(page - 1);
    if (b > a)
        madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
#else
    (void)from;
    (void)to;
#endif
}

/* slots(records, capacity[, release]) -> (slots bytes, depths, count): the slot array over a
   generation's records, which must be sorted by target with no duplicate (ValueError otherwise).
   release true: the records are a read-only shared file mapping, whose pages are let go of a
   megabyte at a time once read, so that building a large file's slots does not also leave its
   records in the process's resident set. */
static PyObject *
build_slots(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t cap;
    PyObject *out;
    uint64_t *slots, mask, depths = 0, count = 0;
    size_t off = 0, released = 0;
    const Record *previous = NULL;
    int release = 0;

    if (!PyArg_ParseTuple(args, "y*n|p", &view, &cap, &release))
        return NULL;
    if (cap < 2 || (cap & (cap - 1)) || view.len % 8 || view.len / 8 >= 0xffffffffLL ||
        ((uintptr_t)view.buf & 7)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "bad capacity or records buffer");
        return NULL;
    }
    out = PyBytes_FromStringAndSize(NULL, cap * 8);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    slots = (uint64_t *)PyBytes_AS_STRING(out);
    memset(slots, 0, (size_t)cap * 8);
    mask = (uint64_t)cap - 1;
    Py_BEGIN_ALLOW_THREADS
    while (off < (size_t)view.len) {
        const Record *r = (const Record *)((const char *)view.buf + off);
        uint64_t h, i;
        uint16_t j;
        int labels = 1, is_app = 0;
        if (off + RECORD_HEAD > (size_t)view.len || off + RECORD_SIZE(r->len) > (size_t)view.len || r->len == 0 ||
            (previous != NULL && record_cmp(previous, r) >= 0) || count + 1 >= (uint64_t)cap) {
            count = UINT64_MAX;
            break;
        }
        for (j = 0; j < r->len; j++) {
            if (r->bytes[j] == '.')
                labels++;
            else if (r->bytes[j] == ':')
                is_app = 1;
        }
        if (!is_app && !(r->meta & TOMBSTONE))
            depths |= 1ULL << (labels < 63 ? labels : 63);
        h = hash_bytes(r->bytes, r->len);
        i = h & mask;
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = ((h >> 32) << 32) | (uint64_t)(off / 8 + 1);
        previous = r;
        if (release && off - released >= ((size_t)1 << 20)) {
            /* up to the start of this record, which the next one is compared with */
            release_mapped((const char *)view.buf + released, (const char *)view.buf + off);
            released = off;
        }
        off += RECORD_SIZE(r->len);
        count++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (count == UINT64_MAX) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_ValueError, "the records are malformed, not sorted by target, or hold a duplicate");
        return NULL;
    }
    return Py_BuildValue("(NKK)", out, (unsigned long long)depths, (unsigned long long)count);
}

/* diff(old, new, combo_map) -> (added, removed, updated): the targets only new lists, only old
   lists, and those both list with another combo or first-listed time; combo_map[i] is the new
   combo index equal to old combo i (-1: none). */
static PyObject *
table_diff(PyObject *Py_UNUSED(module), PyObject *args)
{
    TableObject *old, *new;
    PyObject *combo_map, *added = NULL, *removed = NULL, *updated = NULL;
    Merge a, b;
    const Record *ra, *rb;
    Py_ssize_t nmap;

    if (!PyArg_ParseTuple(args, "O!O!O!", &TableType, &old, &TableType, &new, &PyList_Type, &combo_map))
        return NULL;
    if (!table_ready(old) || !table_ready(new))
        return NULL;
    nmap = PyList_GET_SIZE(combo_map);
    added = PyList_New(0);
    removed = PyList_New(0);
    updated = PyList_New(0);
    if (!added || !removed || !updated)
        goto fail;
    merge_start(old, &a);
    merge_start(new, &b);
    ra = merge_next(&a);
    rb = merge_next(&b);
    while (ra != NULL || rb != NULL) {
        int c = ra == NULL ? 1 : rb == NULL ? -1 : record_cmp(ra, rb);
        PyObject *list = NULL, *s;
        const Record *named = c < 0 ? ra : rb;
        if (c < 0)
            list = removed;
        else if (c > 0)
            list = added;
        else {
            Py_ssize_t index = (Py_ssize_t)(ra->meta & COMBO_MASK);
            long mapped = -1;
            if (index < nmap) {
                mapped = PyLong_AsLong(PyList_GET_ITEM(combo_map, index));
                if (mapped == -1 && PyErr_Occurred())
                    goto fail;
            }
            if (mapped != (long)(rb->meta & COMBO_MASK) || ra->first != rb->first)
                list = updated;
        }
        if (list != NULL) {
            s = PyUnicode_FromStringAndSize(named->bytes, (Py_ssize_t)named->len);
            if (s == NULL || PyList_Append(list, s) < 0) {
                Py_XDECREF(s);
                goto fail;
            }
            Py_DECREF(s);
        }
        if (c <= 0)
            ra = merge_next(&a);
        if (c >= 0)
            rb = merge_next(&b);
    }
    if (a.damaged || b.damaged) {
        damaged_error();
        goto fail;
    }
    return Py_BuildValue("(NNN)", added, removed, updated);

fail:
    Py_XDECREF(added);
    Py_XDECREF(removed);
    Py_XDECREF(updated);
    return NULL;
}

/* Seconds since 1970 of "YYYY-MM-DDTHH:MM:SSZ" (n == 20), 0 for any other text or a date that
   does not exist or does not fit in 32 bits: generation.first_seconds in C. */
static uint32_t
first_listed_seconds(const char *s, Py_ssize_t n)
{
    static const int days_in[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const int digit_at[14] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    int k, y, m, d, hh, mm, ss, leap;
    int64_t era_y, era, yoe, doy, doe, days, value;
    if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return 0;
    for (k = 0; k < 14; k++)
        if (s[digit_at[k]] < '0' || s[digit_at[k]] > '9')
            return 0;
#define D(i) (s[i] - '0')
    y = D(0) * 1000 + D(1) * 100 + D(2) * 10 + D(3);
    m = D(5) * 10 + D(6);
    d = D(8) * 10 + D(9);
    hh = D(11) * 10 + D(12);
    mm = D(14) * 10 + D(15);
    ss = D(17) * 10 + D(18);
#undef D
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in[m - 1] + (m == 2 && leap) || hh > 23 || mm > 59 || ss > 59)
        return 0;
    /* days from civil (H. Hinnant) */
    era_y = m <= 2 ? y - 1 : y;
    era = era_y / 400;
    yoe = era_y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    value = days * 86400 + hh * 3600 + mm * 60 + ss;
    return (value > 0 && value <= 0xffffffffLL) ? (uint32_t)value : 0;
}

/* parse_csv(data, start, previous, combo_index, parents) -> (offset, records, lines, count, previous, stop)
   Plain lines of the feed's csv (target,kind,countries,categories,first_listed_at; data ends with
   a newline) from offset start, as generation records and as the "target\n" text the checksum
   hashes. It stops before a line it leaves to Python: stop 1, its middle columns name no combo
   in combo_index yet (bytes "kind,countries,categories" -> index); stop 2, anything else (quotes,
   another column count, a target out of order or not canonical): Python parses it and says why.
   stop 0: all of data was read. parents: the frozenset of names flagged RISKY (str). */
static PyObject *
parse_csv(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer data, prev;
    Py_ssize_t start, off, count = 0;
    PyObject *combo_index, *parents, *records = NULL, *lines = NULL, *result = NULL, *key = NULL;
    char *rec, *txt, prevbuf[65536];
    size_t rec_used = 0, txt_used = 0, prev_len;
    int stop = 0;

    if (!PyArg_ParseTuple(args, "y*ny*O!O", &data, &start, &prev, &PyDict_Type, &combo_index, &parents))
        return NULL;
    if (prev.len > (Py_ssize_t)sizeof(prevbuf) || start < 0 || start > data.len) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&prev);
        PyErr_SetString(PyExc_ValueError, "bad arguments");
        return NULL;
    }
    memcpy(prevbuf, prev.buf, (size_t)prev.len);
    prev_len = (size_t)prev.len;
    PyBuffer_Release(&prev);
    /* a record is at most 17 bytes more than its target, and a line at least 6 bytes longer */
    records = PyBytes_FromStringAndSize(NULL, (data.len - start) * 3 + 64);
    lines = PyBytes_FromStringAndSize(NULL, data.len - start + 64);
    if (records == NULL || lines == NULL)
        goto done;
    rec = PyBytes_AS_STRING(records);
    txt = PyBytes_AS_STRING(lines);
    off = start;
    while (off < data.len) {
        const char *line = (const char *)data.buf + off;
        const char *end = memchr(line, '\n', (size_t)(data.len - off));
        const char *comma[4];
        Py_ssize_t n, tlen, j;
        int ncomma = 0, cmp;
        PyObject *index;
        unsigned long meta;
        Record *r;
        if (end == NULL) {
            stop = 2;
            break;
        }
        n = end - line;
        for (j = 0; j < n; j++) {
            char c = line[j];
            if (c == ',') {
                if (ncomma == 4) {
                    ncomma = 5;
                    break;
                }
                comma[ncomma++] = line + j;
            }
            else if (c == '"' || c == '\r') {
                ncomma = 5;
                break;
            }
        }
        if (ncomma != 4) {
            stop = 2;
            break;
        }
        tlen = comma[0] - line;
        if (tlen < 1 || tlen > 0xffff) {
            stop = 2;
            break;
        }
        for (j = 0; j < tlen; j++)
            if ((unsigned char)line[j] <= 0x20 || (unsigned char)line[j] >= 0x7f)
                break;
        if (j < tlen) {
            stop = 2;
            break;
        }
        cmp = memcmp(line, prevbuf, (size_t)tlen < prev_len ? (size_t)tlen : prev_len);
        if (cmp < 0 || (cmp == 0 && (size_t)tlen <= prev_len)) {
            stop = 2;
            break;
        }
        key = PyBytes_FromStringAndSize(comma[0] + 1, comma[3] - comma[0] - 1);
        if (key == NULL)
            goto done;
        index = PyDict_GetItemWithError(combo_index, key);
        Py_CLEAR(key);
        if (index == NULL) {
            if (PyErr_Occurred())
                goto done;
            stop = 1;
            break;
        }
        meta = PyLong_AsUnsignedLong(index);
        if (meta == (unsigned long)-1 && PyErr_Occurred())
            goto done;
        if (parents != Py_None) {
            PyObject *target = PyUnicode_FromStringAndSize(line, tlen);
            int risky;
            if (target == NULL)
                goto done;
            risky = PySet_Contains(parents, target);
            Py_DECREF(target);
            if (risky < 0)
                goto done;
            if (risky && memchr(line, ':', (size_t)tlen) == NULL)
                meta |= RISKY;
        }
        r = (Record *)(rec + rec_used);
        memset(r, 0, RECORD_SIZE(tlen));
        r->meta = (uint32_t)meta;
        r->first = first_listed_seconds(comma[3] + 1, end - comma[3] - 1);
        r->len = (uint16_t)tlen;
        memcpy(r->bytes, line, (size_t)tlen);
        rec_used += RECORD_SIZE(tlen);
        memcpy(txt + txt_used, line, (size_t)tlen);
        txt_used += (size_t)tlen;
        txt[txt_used++] = '\n';
        memcpy(prevbuf, line, (size_t)tlen);
        prev_len = (size_t)tlen;
        count++;
        off = end - (const char *)data.buf + 1;
    }
    if (_PyBytes_Resize(&records, (Py_ssize_t)rec_used) < 0 || _PyBytes_Resize(&lines, (Py_ssize_t)txt_used) < 0)
        goto done;
    result = Py_BuildValue("(nOOny#i)", off, records, lines, count, prevbuf, (Py_ssize_t)prev_len, stop);

done:
    PyBuffer_Release(&data);
    Py_XDECREF(key);
    Py_XDECREF(records);
    Py_XDECREF(lines);
    return result;
}

static PyMethodDef module_methods[] = {
    {"encode", (PyCFunction)encode_records, METH_VARARGS,
     "encode(targets, metas, firsts) -> bytes of generation records"},
    {"diff", (PyCFunction)table_diff, METH_VARARGS,
     "diff(old_table, new_table, combo_map) -> (added, removed, updated) target lists"},
    {"parse_csv", (PyCFunction)parse_csv, METH_VARARGS,
     "parse_csv(data, start, previous, combo_index, parents) -> (offset, records, lines, count, previous, stop)"},
    {"slots", (PyCFunction)build_slots, METH_VARARGS,
     "slots(records, capacity) -> (slot array bytes, depths, count)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sitealert.matcher._speedups",
    .m_doc = "C implementation of sitealert.matcher._pure.Table and of the generation writer's hot loops.",
    .m_size = -1,
    .m_methods = module_methods,
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
