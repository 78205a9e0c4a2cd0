/* replay_main.c -- run a fuzz target over saved inputs, without libFuzzer.
 *
 * Usage: fuzz_X_replay PATH...   Each PATH is a file or a directory whose
 * regular files are all replayed (sorted by name, so failures repeat).  A
 * broken invariant aborts inside the target; otherwise exits 0 after
 * printing how many inputs ran.  Exits 2 if a path cannot be read or no
 * input was found, so a test that lost its corpus does not pass silently.
 * Progress goes to stderr: a target may send stdout elsewhere.
 * Lets ctest replay the committed seeds and regressions with any compiler.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean replay_file(const char *path)
{
    gchar *buf = NULL;
    gsize len = 0;
    GError *err = NULL;
    if (!g_file_get_contents(path, &buf, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err->message);
        g_error_free(err);
        return FALSE;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, (size_t)len);
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    g_free(buf);
    return TRUE;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    unsigned n = 0;
    for (int i = 1; i < argc; i++) {
        if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            if (!replay_file(argv[i]))
                return 2;
            n++;
            continue;
        }
        GDir *dir = g_dir_open(argv[i], 0, NULL);
        if (dir == NULL) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 2;
        }
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        while ((name = g_dir_read_name(dir)) != NULL)
            if (name[0] != '.')
                g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
        g_dir_close(dir);
        g_ptr_array_sort(names, by_name);
        for (guint k = 0; k < names->len; k++) {
            if (!replay_file(names->pdata[k]))
                return 2;
            n++;
        }
        g_ptr_array_free(names, TRUE);
    }
    fprintf(stderr, "replayed %u inputs\n", n);
    return n > 0 ? 0 : 2;
}
