/*  sf_cli.h — the streamfleet CLI: shared options, the controller client and
    output helpers used by every subcommand (controller/cli/cmd_*.c).

    Exit codes (docs/cli.md): 0 success; 1 the controller answered with an
    error (unknown stream, bad filter); 2 usage error; 3 no controller
    answered; 4 certificate problem.
*/
#ifndef SF_CLI_H
#define SF_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <msgpack.h>
#include "sf_codec.h"

#define SF_EXIT_OK 0
#define SF_EXIT_ANSWER 1
#define SF_EXIT_USAGE 2
#define SF_EXIT_UNREACHABLE 3
#define SF_EXIT_CERT 4

typedef enum { SF_OUT_TABLE, SF_OUT_WIDE, SF_OUT_JSON } sf_out_t;

typedef struct {
    char controllers [2048];        //  comma-separated query endpoints
    char cert [512];
    char server_cert [512];
    int timeout_ms;
    sf_out_t output;
    bool color;
    int width;                      //  terminal columns; 0 when not a terminal (full width)
} sf_cli_t;

//  Sends one request (a packed message) to the first controller that
//  answers. On success reply holds the parsed answer (release it) and 0 is
//  returned; otherwise an exit code, with the reason printed to stderr.
int sf_cli_request (sf_cli_t *cli, msgpack_sbuffer *request, sf_msg_t *reply);
//  The common part of every query command: sends request (and destroys it),
//  prints an error reply or, with -o json, the reply as JSON. *finished says
//  whether that was all; if not, reply holds the answer for the command to
//  print as a table. Returns the exit code so far. Release reply either way.
int sf_cli_ask (sf_cli_t *cli, msgpack_sbuffer *request, sf_msg_t *reply, bool *finished);
//  Prints an "error" reply and returns SF_EXIT_ANSWER; returns 0 for others
int sf_cli_check_error (const sf_msg_t *reply);
//  Prints the reply body as JSON on stdout
void sf_cli_print_json (const msgpack_object *o);

//  Formatting
const char *sf_fmt_bitrate (uint64_t kbps, char *buf, size_t size);
const char *sf_fmt_duration (int64_t seconds, char *buf, size_t size);
const char *sf_fmt_bytes (uint64_t bytes, char *buf, size_t size);
//  "2026-12-01 21:50:12 UTC", or in the local zone after sf_fmt_set_local
const char *sf_fmt_time (int64_t unix_s, char *buf, size_t size);
void sf_fmt_set_local (bool local);
//  The same with milliseconds: "2026-12-01 21:50:17.296 UTC"
const char *sf_fmt_time_ms (int64_t unix_ms, char *buf, size_t size);
//  A TIME argument: unix seconds, ISO-8601 UTC (2026-11-24T03:10:00Z), or
//  relative to now (-10m, -90s, -2h, -1d). 0, or -1 when it is none of these
int sf_parse_time (const char *text, int64_t now, int64_t *out);
//  Whether the controller knows stream NAME (kind "stream") or node ID (kind
//  "node"): 1 yes, 0 no (printed on stderr as the one "no such" message,
//  docs/cli.md), or an exit code > 1 when it could not be asked
int sf_cli_known (sf_cli_t *cli, const char *kind, const char *key);
//  Display width of UTF-8 text (code points; the table's marks are all narrow)
size_t sf_text_width (const char *text);
//  Copies text into buf cut to at most width columns, ending in "…" when cut
const char *sf_fit (const char *text, size_t width, char *buf, size_t size);
//  Prints text on lines of at most width columns (0: one line), breaking
//  where two spaces separate its items
void sf_print_wrapped (const char *text, int width);
//  The marks of the tables, explained (under the table and in --help)
#define SF_CLI_LEGEND "P primary  S secondary  M migrated   [D] DVR  [F] photo  [A] audio   " \
                      "⇄ in transfer  ! conflict: live on two nodes  (stale) last poll failed"
//  ANSI colour for a status or liveness word, "" when colour is off
const char *sf_color (const sf_cli_t *cli, const char *word);
const char *sf_color_reset (const sf_cli_t *cli);

//  Subcommands: argv[0] is the subcommand's name
typedef int (sf_cmd_fn) (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_streams (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_nodes (sf_cli_t *cli, int argc, char **argv);
//  The `nodes` table of a reply's "nodes" array (the node entity), ended by
//  the count line: what `streamfleet nodes` prints
void sf_nodes_table (const sf_cli_t *cli, const msgpack_object *nodes, FILE *out);
int sf_cmd_keygen (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_migrations (sf_cli_t *cli, int argc, char **argv);
//  watch migrations -o json: the events of migrations' selection that appear
//  from a fixed start on, one JSON object a line in migrations' item shape,
//  until *stop is set. 0 or an exit code.
int sf_cmd_migrations_watch (sf_cli_t *cli, int argc, char **argv, volatile int *stop);
int sf_cmd_dvr (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_cluster (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_complete (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_watch (sf_cli_t *cli, int argc, char **argv);
int sf_cmd_alerts (sf_cli_t *cli, int argc, char **argv);
#endif
