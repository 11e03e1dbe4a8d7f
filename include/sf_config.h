/*  sf_config.h — one schema table drives option parsing (command line and
    config file), the --help text and the docs, so they never disagree.

    A daemon declares its options as an array of sf_option_t with a type,
    default, range and help line, each pointing at a field of its config
    struct. Config files are "key = value" lines ('#' comments); command-line
    options are --key value or --key=value, and win over the file.
*/
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum {
    SF_OPT_STR,         //  char buffer of size `size`
    SF_OPT_INT,         //  int64_t, within [min, max]
    SF_OPT_BOOL,        //  bool; on the command line a flag with no value
    SF_OPT_LIST,        //  char buffer; repeated options are joined by ','
    SF_OPT_LINES,       //  char buffer; repeated options are joined by '\n' (entries that
                        //  hold commas themselves, such as alert rules)
} sf_opt_type_t;

typedef struct {
    const char *name;
    sf_opt_type_t type;
    size_t offset;          //  offsetof in the config struct
    size_t size;            //  buffer size for STR and LIST
    const char *def;        //  default, as text
    int64_t min, max;
    const char *help;
} sf_option_t;

//  Sets every default
void sf_config_defaults (const sf_option_t *table, void *config);
//  Parses argv from argv[first]; stops at the first non-option argument and
//  returns its index (argc if none). Returns -1 on an error (written to err).
//  "--config FILE" anywhere loads that file first.
int sf_config_parse_args (const sf_option_t *table, void *config, int argc, char **argv,
                          int first, char *err, size_t errlen);
int sf_config_load_file (const sf_option_t *table, void *config, const char *path,
                         char *err, size_t errlen);
//  The same from an open stream; path names it in errors (the fuzzer reads
//  from memory through fmemopen)
int sf_config_load_stream (const sf_option_t *table, void *config, FILE *f, const char *path,
                           char *err, size_t errlen);
int sf_config_set (const sf_option_t *table, void *config, const char *name,
                   const char *value, char *err, size_t errlen);
//  A daemon's command line: --help/-h prints usage() to stdout and --version
//  the version, each returning 0 through *exit_code; defaults, then the options (a config file first);
//  errors and stray arguments are printed as "PROG: ..." with exit code 2.
//  Returns true when the caller should run, false when it should exit.
bool sf_config_main (const sf_option_t *table, void *config, int argc, char **argv,
                     const char *prog, void (*usage) (FILE *out), int *exit_code);
//  Prints "PROG VERSION (protocol N)" — what --version prints on every binary
void sf_version_print (const char *prog, FILE *out);
//  Prints the options table as help text
void sf_config_usage (const sf_option_t *table, FILE *out);
#endif
