/*  config.c — options from a schema table: defaults, "key = value" files and
    --key value arguments, with types and ranges checked in one place, and the
    usage text printed from the same table.
*/
#include "sf_config.h"
#include "sf_codec.h"
#include "sf_version.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

static const sf_option_t *
s_find (const sf_option_t *table, const char *name, size_t len)
{
    for (const sf_option_t *o = table; o->name; o++)
        if (strlen (o->name) == len && strncmp (o->name, name, len) == 0)
            return o;
    return NULL;
}

static int
s_assign (const sf_option_t *o, void *config, const char *value, bool append,
          char *err, size_t errlen)
{
    char *field = (char *) config + o->offset;
    switch (o->type) {
        case SF_OPT_STR:
        case SF_OPT_LIST:
        case SF_OPT_LINES: {
            size_t have = append && o->type != SF_OPT_STR ? strlen (field) : 0;
            size_t need = have + (have ? 1 : 0) + strlen (value);
            if (need >= o->size) {
                snprintf (err, errlen, "--%s: value longer than %zu bytes", o->name, o->size - 1);
                return -1;
            }
            if (have)
                field [have++] = o->type == SF_OPT_LINES ? '\n' : ',';
            strcpy (field + have, value);
            return 0;
        }
        case SF_OPT_INT: {
            char *end;
            errno = 0;
            long long v = strtoll (value, &end, 10);
            if (errno || end == value || *end) {
                snprintf (err, errlen, "--%s: '%s' is not a whole number", o->name, value);
                return -1;
            }
            if (v < o->min || v > o->max) {
                snprintf (err, errlen, "--%s: %lld is out of range [%lld, %lld]", o->name, v,
                          (long long) o->min, (long long) o->max);
                return -1;
            }
            *(int64_t *) field = v;
            return 0;
        }
        case SF_OPT_BOOL: {
            bool v;
            if (!strcasecmp (value, "1") || !strcasecmp (value, "true") || !strcasecmp (value, "yes")
            ||  !strcasecmp (value, "on"))
                v = true;
            else if (!strcasecmp (value, "0") || !strcasecmp (value, "false")
                 ||  !strcasecmp (value, "no") || !strcasecmp (value, "off"))
                v = false;
            else {
                snprintf (err, errlen, "--%s: '%s' is not a boolean (true/false)", o->name, value);
                return -1;
            }
            *(bool *) field = v;
            return 0;
        }
    }
    return -1;
}

void
sf_config_defaults (const sf_option_t *table, void *config)
{
    char err [256];
    for (const sf_option_t *o = table; o->name; o++) {
        char *field = (char *) config + o->offset;
        if (o->type == SF_OPT_STR || o->type == SF_OPT_LIST || o->type == SF_OPT_LINES)
            field [0] = 0;
        if (o->def)
            s_assign (o, config, o->def, false, err, sizeof (err));
        else if (o->type == SF_OPT_INT)
            *(int64_t *) field = 0;
        else if (o->type == SF_OPT_BOOL)
            *(bool *) field = false;
    }
}

int
sf_config_set (const sf_option_t *table, void *config, const char *name, const char *value,
               char *err, size_t errlen)
{
    const sf_option_t *o = s_find (table, name, strlen (name));
    if (!o) {
        snprintf (err, errlen, "unknown option '%s' (see --help)", name);
        return -1;
    }
    return s_assign (o, config, value, false, err, errlen);
}

int
sf_config_load_file (const sf_option_t *table, void *config, const char *path,
                     char *err, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "cannot read config file %s: %s", path, strerror (errno));
        return -1;
    }
    int rc = sf_config_load_stream (table, config, f, path, err, errlen);
    fclose (f);
    return rc;
}

int
sf_config_load_stream (const sf_option_t *table, void *config, FILE *f, const char *path,
                       char *err, size_t errlen)
{
    char line [4096];
    int lineno = 0;
    int rc = 0;
    //  A list's first line in the file replaces its default; later lines append
    bool seen_list [256] = { false };
    while (fgets (line, sizeof (line), f)) {
        lineno++;
        char *p = line;
        while (isspace ((unsigned char) *p))
            p++;
        if (*p == '#' || *p == 0)
            continue;
        char *eq = strchr (p, '=');
        if (!eq) {
            snprintf (err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        char *kend = eq;
        while (kend > p && isspace ((unsigned char) kend [-1]))
            kend--;
        char *v = eq + 1;
        while (isspace ((unsigned char) *v))
            v++;
        size_t vlen = strlen (v);
        while (vlen && isspace ((unsigned char) v [vlen - 1]))
            v [--vlen] = 0;
        //  Keys may be written with '_' or '-'
        for (char *k = p; k < kend; k++)
            if (*k == '_')
                *k = '-';
        const sf_option_t *o = s_find (table, p, (size_t) (kend - p));
        if (!o) {
            snprintf (err, errlen, "%s:%d: unknown option '%.*s'", path, lineno, (int) (kend - p), p);
            rc = -1;
            break;
        }
        char e [256];
        size_t idx = (size_t) (o - table);
        bool append = (o->type == SF_OPT_LIST || o->type == SF_OPT_LINES) && idx < 256 && seen_list [idx];
        if (idx < 256)
            seen_list [idx] = true;
        if (s_assign (o, config, v, append, e, sizeof (e))) {
            snprintf (err, errlen, "%s:%d: %s", path, lineno, e);
            rc = -1;
            break;
        }
    }
    return rc;
}

int
sf_config_parse_args (const sf_option_t *table, void *config, int argc, char **argv,
                      int first, char *err, size_t errlen)
{
    //  A config file is loaded first, whatever its position, so that the
    //  command line wins over it.
    for (int i = first; i < argc; i++) {
        const char *a = argv [i];
        if (strcmp (a, "--") == 0)
            break;
        if (strcmp (a, "--config") == 0 && i + 1 < argc)
            if (sf_config_load_file (table, config, argv [i + 1], err, errlen))
                return -1;
        if (strncmp (a, "--config=", 9) == 0)
            if (sf_config_load_file (table, config, a + 9, err, errlen))
                return -1;
    }
    bool seen_list [256] = { false };
    int i = first;
    while (i < argc) {
        const char *a = argv [i];
        if (strcmp (a, "--") == 0)
            return i + 1;
        if (strncmp (a, "--", 2) != 0)
            return i;
        const char *name = a + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        const sf_option_t *o = s_find (table, name, len);
        if (!o) {
            snprintf (err, errlen, "unknown option '%s' (see --help)", a);
            return -1;
        }
        const char *value = NULL;
        if (eq)
            value = eq + 1;
        else if (o->type == SF_OPT_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv [++i];
        else {
            snprintf (err, errlen, "option %s needs a value", a);
            return -1;
        }
        //  A list given on the command line replaces the file's, then appends
        size_t idx = (size_t) (o - table);
        bool append = (o->type == SF_OPT_LIST || o->type == SF_OPT_LINES) && idx < 256 && seen_list [idx];
        if (idx < 256)
            seen_list [idx] = true;
        if (s_assign (o, config, value, append, err, errlen))
            return -1;
        i++;
    }
    return argc;
}

void
sf_config_usage (const sf_option_t *table, FILE *out)
{
    for (const sf_option_t *o = table; o->name; o++) {
        char head [64];
        const char *arg = o->type == SF_OPT_INT ? " N" : o->type == SF_OPT_BOOL ? "" : " VALUE";
        snprintf (head, sizeof (head), "--%s%s", o->name, arg);
        fprintf (out, "  %-28s %s", head, o->help);
        if (o->def && *o->def)
            fprintf (out, " [%s]", o->def);
        fprintf (out, "\n");
    }
}

bool
sf_config_main (const sf_option_t *table, void *config, int argc, char **argv,
                const char *prog, void (*usage) (FILE *out), int *exit_code)
{
    *exit_code = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--help") == 0 || strcmp (argv [i], "-h") == 0) {
            usage (stdout);
            return false;
        }
        if (strcmp (argv [i], "--version") == 0) {
            sf_version_print (prog, stdout);
            return false;
        }
    }
    sf_config_defaults (table, config);
    char err [512];
    int at = sf_config_parse_args (table, config, argc, argv, 1, err, sizeof (err));
    if (at < 0) {
        fprintf (stderr, "%s: %s\n", prog, err);
        *exit_code = 2;
        return false;
    }
    if (at < argc) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv [at]);
        *exit_code = 2;
        return false;
    }
    return true;
}

void
sf_version_print (const char *prog, FILE *out)
{
    fprintf (out, "%s %s (protocol %d)\n", prog, SF_VERSION, SF_PROTOCOL_VERSION);
}
