/* Helpers shared by the llama unit tests: generated model files. */
#ifndef TEST_LLAMA_COMMON_H
#define TEST_LLAMA_COMMON_H

/*
 * Path of a tiny model made by tests/tools/mkgguf.py with the given
 * arguments (e.g. "--arch llama --type Q4_K --seed 3"), generated once into
 * $BUILD/tests/models and reused; NULL if generation failed.  The returned
 * string is static storage, overwritten by the next call.
 */
const char *tl_model(const char *args);

#endif
