/* The optional C accelerator of a feed document's cold build (sitealert.feed.copy_out).
 *
 * CopyRenderer reads the rows of `COPY (...) TO STDOUT (FORMAT binary)` straight from libpq
 * (PQgetCopyData, given by address: the libpq that psycopg loaded) — the entry's columns as stored,
 * text, and the date as PostgreSQL's binary timestamp, which the server sends without converting
 * anything — and renders them as the document's bytes and the txt document's bytes, a chunk at a
 * time, without a Python object per row: psycopg's COPY hands over one row per call, which cost
 * about 0.85 us of Python per row.
 * What a record looks like is not decided here: the middle of a record (from its attributes) and
 * its end (from its date) come from Python callables, called once per distinct value and kept,
 * and a target that is not canonical goes through a Python callable too, so these bytes are
 * render.DocumentChunks' bytes. The GIL is let go while libpq waits and while rows are rendered.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int (*getcopydata_fn)(void *conn, char **buffer, int async);
typedef void (*freemem_fn)(void *ptr);

static const char SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

/* Bytes a canonical target may hold (render._CANONICAL_CHARACTERS without the newline). */
static unsigned char canonical[256];

static void
init_canonical(void)
{
    const char *allowed = "-.:_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (const char *c = allowed; *c; c++)
        canonical[(unsigned char)*c] = 1;
}

/* --- Renderings kept per distinct value ------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    PyObject *key;   /* bytes */
    PyObject *value; /* bytes */
} Slot;

typedef struct {
    Slot *slots;
    size_t capacity, count, limit;
    PyObject *compute; /* str (UTF-8 keys) or bytes (binary keys) -> str */
    int binary;
} Memo;

static uint64_t
hash_bytes(const char *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
    return h;
}

static void
memo_clear(Memo *memo)
{
    for (size_t i = 0; i < memo->capacity; i++) {
        Py_CLEAR(memo->slots[i].key);
        Py_CLEAR(memo->slots[i].value);
    }
    memo->count = 0;
}

static void
memo_free(Memo *memo)
{
    if (memo->slots) {
        memo_clear(memo);
        PyMem_RawFree(memo->slots);
        memo->slots = NULL;
    }
    Py_CLEAR(memo->compute);
}

static Slot *
memo_find(Memo *memo, uint64_t hash, const char *data, size_t size)
{
    size_t mask = memo->capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        Slot *slot = &memo->slots[i];
        if (slot->key == NULL)
            return slot;
        if (slot->hash == hash && (size_t)PyBytes_GET_SIZE(slot->key) == size
            && memcmp(PyBytes_AS_STRING(slot->key), data, size) == 0)
            return slot;
    }
}

static int
memo_grow(Memo *memo)
{
    size_t old_capacity = memo->capacity;
    Slot *old = memo->slots;
    Slot *slots = PyMem_RawCalloc(old_capacity * 2, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memo->slots = slots;
    memo->capacity = old_capacity * 2;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].key != NULL) {
            Slot *slot = memo_find(memo, old[i].hash, PyBytes_AS_STRING(old[i].key),
                                   (size_t)PyBytes_GET_SIZE(old[i].key));
            *slot = old[i];
        }
    }
    PyMem_RawFree(old);
    return 0;
}

/* The rendering of `data` (UTF-8) as bytes: kept, or computed by the Python callable with the
 * GIL held (`*save` is the thread state let go by the caller). NULL with an exception set. */
static PyObject *
memo_get(Memo *memo, const char *data, size_t size, PyThreadState **save)
{
    uint64_t hash = hash_bytes(data, size);
    Slot *slot = memo_find(memo, hash, data, size);
    if (slot->key != NULL)
        return slot->value;
    PyEval_RestoreThread(*save);
    PyObject *value = NULL, *key = NULL, *text = NULL, *rendered = NULL;
    if (memo->count >= memo->limit) {
        memo_clear(memo);
    }
    else if ((memo->count + 1) * 2 > memo->capacity && memo_grow(memo) < 0) {
        goto done;
    }
    slot = memo_find(memo, hash, data, size);
    text = memo->binary ? PyBytes_FromStringAndSize(data, (Py_ssize_t)size)
                        : PyUnicode_DecodeUTF8(data, (Py_ssize_t)size, "strict");
    if (text == NULL)
        goto done;
    rendered = PyObject_CallOneArg(memo->compute, text);
    if (rendered == NULL)
        goto done;
    if (!PyUnicode_Check(rendered)) {
        PyErr_SetString(PyExc_TypeError, "a rendering must be a str");
        goto done;
    }
    value = PyUnicode_AsUTF8String(rendered);
    key = PyBytes_FromStringAndSize(data, (Py_ssize_t)size);
    if (value == NULL || key == NULL) {
        Py_CLEAR(value);
        Py_CLEAR(key);
        goto done;
    }
    slot->hash = hash;
    slot->key = key;
    slot->value = value;
    memo->count++;
done:
    Py_XDECREF(text);
    Py_XDECREF(rendered);
    *save = PyEval_SaveThread();
    return value;
}

/* --- Output buffers ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t size, capacity;
} Buffer;

static int
buffer_reserve(Buffer *buffer, size_t more)
{
    if (buffer->size + more <= buffer->capacity)
        return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 1 << 16;
    while (capacity < buffer->size + more)
        capacity *= 2;
    char *data = PyMem_RawRealloc(buffer->data, capacity);
    if (data == NULL)
        return -1;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static inline int
buffer_add(Buffer *buffer, const char *data, size_t size)
{
    if (buffer_reserve(buffer, size) < 0)
        return -1;
    memcpy(buffer->data + buffer->size, data, size);
    buffer->size += size;
    return 0;
}

/* --- The renderer ----------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    void *conn;
    getcopydata_fn getcopydata;
    freemem_fn freemem;
    int fields;        /* 1: the target only (txt); 5: target, kind, countries, categories, date */
    Memo middles, ends;
    PyObject *escape;  /* str -> str, for a target that is not canonical */
    PyObject *first;   /* bytes before the first record */
    Py_ssize_t strip;  /* bytes of the last record's end that the document drops */
    size_t chunk;      /* bytes of document per read() */
    Buffer document, txt, key;
    char *pending;     /* a row fetched but not rendered yet (its chunk was full) */
    int pending_size;
    int header_seen, started, finished;
} CopyRenderer;

static void
renderer_dealloc(CopyRenderer *self)
{
    if (self->pending)
        self->freemem(self->pending);
    memo_free(&self->middles);
    memo_free(&self->ends);
    Py_XDECREF(self->escape);
    Py_XDECREF(self->first);
    PyMem_RawFree(self->document.data);
    PyMem_RawFree(self->txt.data);
    PyMem_RawFree(self->key.data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
memo_init(Memo *memo, PyObject *compute, size_t limit, int binary)
{
    memo->binary = binary;
    memo->capacity = 1024;
    memo->limit = limit;
    memo->slots = PyMem_RawCalloc(memo->capacity, sizeof(Slot));
    if (memo->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(compute);
    memo->compute = compute;
    return 0;
}

static int
renderer_init(CopyRenderer *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"conn", "getcopydata", "freemem", "fields", "first", "middle", "end",
                            "escape", "strip", "limit", "chunk", NULL};
    unsigned long long conn, getcopydata, freemem;
    PyObject *first, *middle, *end, *escape;
    Py_ssize_t strip, limit, chunk;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKKiSOOOnnn", names, &conn, &getcopydata, &freemem,
                                     &self->fields, &first, &middle, &end, &escape, &strip, &limit, &chunk))
        return -1;
    if (!conn || !getcopydata || !freemem || (self->fields != 1 && self->fields != 5) || strip < 0
        || strip > PyBytes_GET_SIZE(first) + 1024 || limit < 1 || chunk < 1) {
        PyErr_SetString(PyExc_ValueError, "bad CopyRenderer arguments");
        return -1;
    }
    if (self->middles.slots || self->ends.slots) {
        PyErr_SetString(PyExc_RuntimeError, "CopyRenderer initialized twice");
        return -1;
    }
    self->conn = (void *)(uintptr_t)conn;
    self->getcopydata = (getcopydata_fn)(uintptr_t)getcopydata;
    self->freemem = (freemem_fn)(uintptr_t)freemem;
    if (memo_init(&self->middles, middle, (size_t)limit, 0) < 0 || memo_init(&self->ends, end, (size_t)limit, 1) < 0)
        return -1;
    Py_INCREF(escape);
    self->escape = escape;
    Py_INCREF(first);
    self->first = first;
    self->strip = strip;
    self->chunk = (size_t)chunk;
    return 0;
}

static inline int32_t
be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int32_t)((uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3]);
}

static inline int16_t
be16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int16_t)((uint16_t)u[0] << 8 | u[1]);
}

static int
is_canonical(const char *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (!canonical[(unsigned char)data[i]])
            return 0;
    return 1;
}

/* A target that is not canonical, through `escape` with the GIL held. */
static int
add_escaped(CopyRenderer *self, const char *data, size_t size, PyThreadState **save)
{
    int status = -1;
    PyEval_RestoreThread(*save);
    PyObject *text = PyUnicode_DecodeUTF8(data, (Py_ssize_t)size, "strict");
    PyObject *escaped = text ? PyObject_CallOneArg(self->escape, text) : NULL;
    if (escaped != NULL && !PyUnicode_Check(escaped))
        PyErr_SetString(PyExc_TypeError, "escape must return a str");
    else if (escaped != NULL) {
        Py_ssize_t length;
        const char *utf8 = PyUnicode_AsUTF8AndSize(escaped, &length);
        if (utf8 != NULL && buffer_add(&self->document, utf8, (size_t)length) == 0)
            status = 0;
        else if (utf8 != NULL)
            PyErr_NoMemory();
    }
    Py_XDECREF(text);
    Py_XDECREF(escaped);
    *save = PyEval_SaveThread();
    return status;
}

/* One CopyData message: the header (first message only) and one row, or the trailer. Returns 1 at
 * the trailer, 0 after a row, -1 on an error (set with the GIL held, or described in *error). */
static int
render_row(CopyRenderer *self, const char *row, size_t size, PyThreadState **save, const char **error)
{
    size_t at = 0;
    if (!self->header_seen) {
        if (size < 19 || memcmp(row, SIGNATURE, sizeof(SIGNATURE)) != 0) {
            *error = "not a binary COPY";
            return -1;
        }
        int32_t extension = be32(row + 15);
        if (extension < 0 || (size_t)extension > size - 19) {
            *error = "bad binary COPY header";
            return -1;
        }
        at = 19 + (size_t)extension;
        self->header_seen = 1;
    }
    if (size - at < 2) {
        *error = "truncated binary COPY row";
        return -1;
    }
    int16_t count = be16(row + at);
    at += 2;
    if (count == -1)
        return 1;
    if (count != self->fields) {
        *error = "unexpected number of columns in binary COPY";
        return -1;
    }
    const char *values[5];
    size_t sizes[5];
    for (int i = 0; i < count; i++) {
        if (size - at < 4) {
            *error = "truncated binary COPY row";
            return -1;
        }
        int32_t length = be32(row + at);
        at += 4;
        if (length < 0 || (size_t)length > size - at) {
            *error = length < 0 ? "NULL in a feed entry" : "truncated binary COPY row";
            return -1;
        }
        values[i] = row + at;
        sizes[i] = (size_t)length;
        at += (size_t)length;
    }
    if (buffer_reserve(&self->txt, sizes[0] + 1) < 0) {
        *error = "out of memory";
        return -1;
    }
    memcpy(self->txt.data + self->txt.size, values[0], sizes[0]);
    self->txt.size += sizes[0];
    self->txt.data[self->txt.size++] = '\n';
    if (self->fields == 1)
        return 0;
    if (!self->started) {
        if (buffer_add(&self->document, PyBytes_AS_STRING(self->first), (size_t)PyBytes_GET_SIZE(self->first)) < 0) {
            *error = "out of memory";
            return -1;
        }
        self->started = 1;
    }
    if (is_canonical(values[0], sizes[0])) {
        if (buffer_add(&self->document, values[0], sizes[0]) < 0) {
            *error = "out of memory";
            return -1;
        }
    }
    else if (add_escaped(self, values[0], sizes[0], save) < 0)
        return -1;
    /* The middle's key: kind, countries and categories joined by tabs. */
    self->key.size = 0;
    if (buffer_reserve(&self->key, sizes[1] + sizes[2] + sizes[3] + 2) < 0) {
        *error = "out of memory";
        return -1;
    }
    for (int i = 1; i <= 3; i++) {
        if (i > 1)
            self->key.data[self->key.size++] = '\t';
        memcpy(self->key.data + self->key.size, values[i], sizes[i]);
        self->key.size += sizes[i];
    }
    PyObject *middle = memo_get(&self->middles, self->key.data, self->key.size, save);
    if (middle == NULL)
        return -1;
    if (buffer_add(&self->document, PyBytes_AS_STRING(middle), (size_t)PyBytes_GET_SIZE(middle)) < 0) {
        *error = "out of memory";
        return -1;
    }
    PyObject *end = memo_get(&self->ends, values[4], sizes[4], save);
    if (end == NULL)
        return -1;
    if (buffer_add(&self->document, PyBytes_AS_STRING(end), (size_t)PyBytes_GET_SIZE(end)) < 0) {
        *error = "out of memory";
        return -1;
    }
    return 0;
}

static PyObject *
renderer_read(CopyRenderer *self, PyObject *Py_UNUSED(ignored))
{
    const char *error = NULL;
    PyObject *error_type = PyExc_RuntimeError;
    if (self->finished)
        Py_RETURN_NONE;
    self->document.size = self->txt.size = 0;
    int status = 0;
    PyThreadState *save = PyEval_SaveThread();
    for (;;) {
        char *row;
        int size;
        if (self->pending) {
            row = self->pending;
            size = self->pending_size;
            self->pending = NULL;
        }
        else {
            size = self->getcopydata(self->conn, &row, 0);
            if (size == -1) {
                error = "COPY ended before its trailer";
                status = -1;
                break;
            }
            if (size < 0) {
                error_type = PyExc_OSError;
                error = "COPY failed (PQgetCopyData)";
                status = -1;
                break;
            }
        }
        /* A full chunk goes out once the next row is here: the document's last record is then
         * known when it is rendered (its end loses `strip` bytes). */
        size_t full = self->fields == 1 ? self->txt.size : self->document.size;
        if (full >= self->chunk && !(size == 2 && be16(row) == -1)) {
            self->pending = row;
            self->pending_size = size;
            break;
        }
        status = render_row(self, row, (size_t)size, &save, &error);
        self->freemem(row);
        if (status == 1) {
            self->finished = 1;
            if (self->started && (size_t)self->strip <= self->document.size)
                self->document.size -= (size_t)self->strip;
            break;
        }
        if (status < 0)
            break;
    }
    PyEval_RestoreThread(save);
    if (status < 0) {
        if (error != NULL) {  /* libpq's or the stream's: nothing more to read from it */
            self->finished = 1;
            PyErr_SetString(error_type, error);
        }
        return NULL;  /* a Python callable's exception: drain() reads the rest */
    }
    if (self->txt.size == 0 && self->document.size == 0)
        Py_RETURN_NONE;
    PyObject *txt = PyBytes_FromStringAndSize(self->txt.data, (Py_ssize_t)self->txt.size);
    if (txt == NULL)
        return NULL;
    if (self->fields == 1)
        return Py_BuildValue("(NO)", txt, txt);
    PyObject *document = PyBytes_FromStringAndSize(self->document.data, (Py_ssize_t)self->document.size);
    if (document == NULL) {
        Py_DECREF(txt);
        return NULL;
    }
    return Py_BuildValue("(NN)", document, txt);
}

/* Read the rows not rendered yet and drop them, so that the COPY ends as usual and the
 * transaction can go on (cancelling the statement would abort it). */
static PyObject *
renderer_drain(CopyRenderer *self, PyObject *Py_UNUSED(ignored))
{
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    if (self->pending) {
        self->freemem(self->pending);
        self->pending = NULL;
    }
    while (!self->finished) {
        char *row;
        int size = self->getcopydata(self->conn, &row, 0);
        if (size < 0) {
            failed = 1;
            self->finished = 1;
            break;
        }
        if (size == 2 && be16(row) == -1)
            self->finished = 1;
        self->freemem(row);
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_OSError, "COPY failed (PQgetCopyData)");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef renderer_methods[] = {
    {"read", (PyCFunction)renderer_read, METH_NOARGS,
     "read() -> (document bytes, txt bytes) of the next rows, or None after the last"},
    {"drain", (PyCFunction)renderer_drain, METH_NOARGS, "drain(): read the rows left and drop them"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CopyRendererType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sitealert.feed._documents.CopyRenderer",
    .tp_doc = PyDoc_STR("CopyRenderer(conn, getcopydata, freemem, fields, first, middle, end, escape, strip, "
                        "limit, chunk): a document's bytes from a binary COPY read through libpq"),
    .tp_basicsize = sizeof(CopyRenderer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)renderer_init,
    .tp_dealloc = (destructor)renderer_dealloc,
    .tp_methods = renderer_methods,
};

static struct PyModuleDef documents_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sitealert.feed._documents",
    .m_doc = "C accelerator of a feed document's cold build on PostgreSQL (sitealert.feed.copy_out).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__documents(void)
{
    init_canonical();
    if (PyType_Ready(&CopyRendererType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&documents_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&CopyRendererType);
    if (PyModule_AddObject(m, "CopyRenderer", (PyObject *)&CopyRendererType) < 0) {
        Py_DECREF(&CopyRendererType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
