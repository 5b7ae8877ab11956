/* Optional C speed-up for anyio_ws.core.frames: the XOR mask of RFC 6455 section 5.3.
 *
 * frames.py uses this module when it imports and falls back to pure Python otherwise
 * (or when ANYIO_WS_NO_SPEEDUPS is set). Both must return the same bytes for the same
 * input; tests/core/test_speedups.py checks that they do.
 *
 * Byte order does not matter here: the 64-bit mask word is the 4 mask bytes copied twice
 * in memory order, and each data word is loaded, XORed and stored in memory order too.
 * memcpy keeps unaligned loads and stores legal; compilers turn it into plain moves.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

static void
xor_mask(const unsigned char *in, const unsigned char *key, unsigned char *out,
         Py_ssize_t length)
{
    unsigned char key8[8];
    uint64_t key64;
    Py_ssize_t i = 0;

    memcpy(key8, key, 4);
    memcpy(key8 + 4, key, 4);
    memcpy(&key64, key8, 8);
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, in + i, 8);
        word ^= key64;
        memcpy(out + i, &word, 8);
    }
    /* i is a multiple of 8 here, so the tail starts again at mask byte 0. */
    for (; i < length; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, mask, /)\n"
"--\n"
"\n"
"XOR ``data`` with the 4-byte ``mask`` repeated (section 5.3); return bytes.\n"
"\n"
"``data`` and ``mask`` may be any contiguous bytes-like objects.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "apply_mask() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask must be 4 bytes, not %zd", mask.len);
    }
    else {
        result = PyBytes_FromStringAndSize(NULL, data.len);
        if (result != NULL) {
            xor_mask((const unsigned char *)data.buf, (const unsigned char *)mask.buf,
                     (unsigned char *)PyBytes_AS_STRING(result), data.len);
        }
    }
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "anyio_ws.core._speedups",
    .m_doc = "Optional C speed-ups for anyio_ws.core.frames.",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
