/*
 * Optional accelerator for sitealert.hosts.normalize_target: its two fast paths in C. Built by
 * `pip install` when a compiler is present (setup.py marks it optional); without it the Python
 * fast paths give the same answers, and tests/hosts/test_hosts_speedups.py checks the two
 * against each other.
 *
 * common_target(text) returns what normalize_target(text) returns, or None for "take the Python
 * path" - never a different answer. It decides only the shapes most of a large list is made of:
 *   - a canonical host: (?:[a-z0-9_-]{1,63}\.)+[a-z][a-z0-9-]{0,62}, at most 253 characters, no
 *     "xn--", whose label under its public suffix a registry could issue; returned unchanged;
 *   - the same host in upper or mixed case, or as an "http://" or "https://" address with any
 *     path, query or fragment ("HTTPS://Example.com/a?b"), not a store host (store pages are
 *     app targets); returned as the lower-case host.
 * The public suffix comes from the Python label trie of sitealert.hosts.suffixes, loaded on first
 * use by the callable given to setup(): a node is (children: dict[label, node], flags: int).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <strings.h>

#define MAX_HOST 253
#define MAX_LABEL 63
#define RULE 1
#define WILDCARD 2
#define EXCEPTION 4

static PyObject *trie_loader = NULL; /* callable returning the trie, called once */
static PyObject *root_children = NULL; /* dict */
static long root_flags = 0;
static PyObject *store_hosts = NULL; /* frozenset of str */

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

/* The label count of the public suffix of host[0:n] (lower-case, canonical), as
 * suffixes.public_label_count; -1 with an exception set on failure. */
static Py_ssize_t
public_label_count(const char *host, Py_ssize_t n)
{
    Py_ssize_t count = 1, depth = 0, end = n, start;
    PyObject *children = root_children;
    long flags = root_flags;
    while (end > 0) {
        PyObject *label, *node, *child_flags_obj;
        long child_flags;
        start = end;
        while (start > 0 && host[start - 1] != '.')
            start--;
        depth++;
        label = PyUnicode_FromStringAndSize(host + start, end - start);
        if (label == NULL)
            return -1;
        node = PyDict_GetItemWithError(children, label);
        Py_DECREF(label);
        if (node == NULL) {
            if (PyErr_Occurred())
                return -1;
            if (flags & WILDCARD)
                count = depth;
            return count;
        }
        if (!PyTuple_Check(node) || PyTuple_GET_SIZE(node) != 2 || !PyDict_Check(PyTuple_GET_ITEM(node, 0))) {
            PyErr_SetString(PyExc_TypeError, "a trie node is (dict, int)");
            return -1;
        }
        child_flags_obj = PyTuple_GET_ITEM(node, 1);
        child_flags = PyLong_AsLong(child_flags_obj);
        if (child_flags == -1 && PyErr_Occurred())
            return -1;
        children = PyTuple_GET_ITEM(node, 0);
        if (child_flags & EXCEPTION)
            return depth - 1;
        /* A wildcard rule "*.kobe.jp" makes "kobe.jp" itself public too, as the PSL tests expect. */
        if ((child_flags & (RULE | WILDCARD)) || (flags & WILDCARD))
            count = depth;
        flags = child_flags;
        end = start - 1; /* before the dot; at the first label, start is 0 and the loop ends */
    }
    return count;
}

/* Whether host[0:n] has the canonical shape (see the top of the file) and no "xn--". */
static int
canonical_shape(const unsigned char *host, Py_ssize_t n)
{
    Py_ssize_t i, label_start = 0, labels = 1;
    if (n == 0 || n > MAX_HOST)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = host[i];
        if (c == '.') {
            if (i == label_start || i - label_start > MAX_LABEL)
                return 0;
            label_start = i + 1;
            labels++;
        }
        else if (!char_class[c])
            return 0;
        else if (c == '-' && i >= 3 && host[i - 1] == '-' && host[i - 2] == 'n' && host[i - 3] == 'x')
            return 0; /* "xn--" anywhere: the Python path checks the A-label */
    }
    if (labels < 2)
        return 0;
    /* The top label: 1-63 characters, a letter first, no underscore. */
    if (n - label_start < 1 || n - label_start > MAX_LABEL || !(char_class[host[label_start]] & 4))
        return 0;
    for (i = label_start; i < n; i++)
        if (!(char_class[host[i]] & 1))
            return 0;
    return 1;
}

/* suffixes' _is_registrable for a label without "xn--" (the shape check refused those). */
static int
registrable(const char *label, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        if (label[i] == '_')
            return 0;
    if (label[0] == '-' || label[n - 1] == '-')
        return 0;
    if (n >= 4 && label[2] == '-' && label[3] == '-')
        return 0;
    return 1;
}

/* The trie from the loader given to setup(), on first use: importing sitealert.hosts reads no
 * Public Suffix List. */
static int
load_trie(void)
{
    PyObject *trie;
    long flags;
    if (trie_loader == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call setup(trie_loader, store_hosts) first");
        return -1;
    }
    trie = PyObject_CallNoArgs(trie_loader);
    if (trie == NULL)
        return -1;
    if (!PyTuple_Check(trie) || PyTuple_GET_SIZE(trie) != 2 || !PyDict_Check(PyTuple_GET_ITEM(trie, 0))) {
        Py_DECREF(trie);
        PyErr_SetString(PyExc_TypeError, "the trie is (dict, int)");
        return -1;
    }
    flags = PyLong_AsLong(PyTuple_GET_ITEM(trie, 1));
    if (flags == -1 && PyErr_Occurred()) {
        Py_DECREF(trie);
        return -1;
    }
    root_flags = flags;
    Py_INCREF(PyTuple_GET_ITEM(trie, 0));
    Py_XSETREF(root_children, PyTuple_GET_ITEM(trie, 0));
    Py_DECREF(trie);
    return 0;
}

static PyObject *
common_target(PyObject *module, PyObject *text)
{
    Py_ssize_t n, start = 0, end, i, public, labels, cut;
    const char *data;
    char host[MAX_HOST + 1];
    int changed = 0;

    (void)module;
    if (root_children == NULL && load_trie() < 0)
        return NULL;
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text))
        Py_RETURN_NONE;
    n = PyUnicode_GET_LENGTH(text);
    data = (const char *)PyUnicode_1BYTE_DATA(text);
    if (n >= 7 && strncasecmp(data, "http://", 7) == 0)
        start = 7;
    else if (n >= 8 && strncasecmp(data, "https://", 8) == 0)
        start = 8;
    for (end = start; end < n; end++) {
        char c = data[end];
        if (c == '/' || c == '\\' || c == '?' || c == '#')
            break;
    }
    if (end - start > MAX_HOST || end == start)
        Py_RETURN_NONE;
    for (i = start; i < end; i++) {
        char c = data[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + ('a' - 'A'));
            changed = 1;
        }
        host[i - start] = c;
    }
    n = end - start;
    changed |= start != 0 || end != PyUnicode_GET_LENGTH(text);
    if (!canonical_shape((const unsigned char *)host, n))
        Py_RETURN_NONE;
    if (changed) {
        /* An address of a store page is an app target: the Python path reads its id. */
        int hit;
        PyObject *candidate = PyUnicode_FromStringAndSize(host, n);
        if (candidate == NULL)
            return NULL;
        hit = PySet_Contains(store_hosts, candidate);
        if (hit != 0) {
            if (hit > 0) {
                Py_DECREF(candidate);
                Py_RETURN_NONE;
            }
            Py_DECREF(candidate);
            return NULL;
        }
        Py_DECREF(candidate);
    }
    public = public_label_count(host, n);
    if (public < 0)
        return NULL;
    labels = 1;
    for (i = 0; i < n; i++)
        labels += host[i] == '.';
    if (public >= labels)
        Py_RETURN_NONE; /* a public suffix itself: the Python path says why it is refused */
    /* The label under the public suffix: between the (public + 1)th and (public)th dot from the right. */
    cut = n;
    for (i = n - 1; i >= 0; i--) {
        if (host[i] == '.' && --public == 0) {
            cut = i;
            break;
        }
    }
    {
        Py_ssize_t first = cut - 1;
        while (first > 0 && host[first - 1] != '.')
            first--;
        if (!registrable(host + first, cut - first))
            Py_RETURN_NONE;
    }
    if (!changed) {
        Py_INCREF(text);
        return text;
    }
    return PyUnicode_FromStringAndSize(host, n);
}

static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *loader, *stores;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO!:setup", &loader, &PyFrozenSet_Type, &stores))
        return NULL;
    if (!PyCallable_Check(loader)) {
        PyErr_SetString(PyExc_TypeError, "the trie loader must be callable");
        return NULL;
    }
    Py_INCREF(loader);
    Py_XSETREF(trie_loader, loader);
    Py_CLEAR(root_children);
    Py_INCREF(stores);
    Py_XSETREF(store_hosts, stores);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"common_target", common_target, METH_O,
     "common_target(text) -> normalize_target(text) for the common shapes, or None: take the Python path"},
    {"setup", setup, METH_VARARGS, "setup(trie_loader, store_hosts): a callable returning the Public Suffix List trie, and the store hosts"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sitealert.hosts._speedups",
    .m_doc = "C accelerator of normalize_target's fast paths (sitealert.hosts.targets).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    init_char_class();
    return PyModule_Create(&speedups_module);
}
