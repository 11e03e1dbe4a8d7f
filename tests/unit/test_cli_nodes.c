/*  test_cli_nodes.c — the `streamfleet nodes` table (sf_nodes_table): its
    bytes for node rows that cover every cell (a limit and none, over a
    limit, an interface and the streams as bandwidth source, disks at and
    under 80%, no heartbeat yet, no usage, the stale mark, colour), pinned as
    the hand-written table printed them before the node columns came from the
    field table (include/sf_fields.h, SF_NODE_COLS).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sf_cli.h"

static void
s_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

static void
s_disk (msgpack_packer *pk, const char *mount, uint64_t fr, uint64_t tot)
{
    msgpack_pack_map (pk, 3);
    s_str (pk, "mount"); s_str (pk, mount);
    s_str (pk, "free_bytes"); msgpack_pack_uint64 (pk, fr);
    s_str (pk, "total_bytes"); msgpack_pack_uint64 (pk, tot);
}

//  Three nodes as the controller's node entity holds them
static void
s_pack_nodes (msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "nodes");
    msgpack_pack_array (&pk, 4);
    //  Over its primary limit, an interface's counters, two disks
    msgpack_pack_map (&pk, 7);
    s_str (&pk, "id"); s_str (&pk, "node-a");
    s_str (&pk, "liveness"); s_str (&pk, "alive");
    s_str (&pk, "heartbeat_age_ms"); msgpack_pack_int64 (&pk, 1540);
    s_str (&pk, "stale"); msgpack_pack_false (&pk);
    s_str (&pk, "limits"); msgpack_pack_map (&pk, 2);
    s_str (&pk, "max_primary_streams"); msgpack_pack_uint32 (&pk, 4);
    s_str (&pk, "max_in_kbps"); msgpack_pack_uint32 (&pk, 5000);
    s_str (&pk, "usage"); msgpack_pack_map (&pk, 6);
    s_str (&pk, "cpu_pct"); msgpack_pack_double (&pk, 12.46);
    s_str (&pk, "mem_used_bytes"); msgpack_pack_uint64 (&pk, 1500000000ull);
    s_str (&pk, "mem_total_bytes"); msgpack_pack_uint64 (&pk, 8000000000ull);
    s_str (&pk, "in_kbps"); msgpack_pack_uint32 (&pk, 300);
    s_str (&pk, "bandwidth_source"); s_str (&pk, "interface eth0");
    s_str (&pk, "disks"); msgpack_pack_array (&pk, 2);
    s_disk (&pk, "/", 10, 20);
    s_disk (&pk, "/var/lib/media", 1, 100);
    s_str (&pk, "counts"); msgpack_pack_map (&pk, 3);
    s_str (&pk, "streams"); msgpack_pack_uint32 (&pk, 7);
    s_str (&pk, "primary"); msgpack_pack_uint32 (&pk, 5);
    s_str (&pk, "active"); msgpack_pack_uint32 (&pk, 6);
    //  Over its bandwidth limit, counted from the streams, stale
    msgpack_pack_map (&pk, 7);
    s_str (&pk, "id"); s_str (&pk, "node-b");
    s_str (&pk, "liveness"); s_str (&pk, "suspect");
    s_str (&pk, "heartbeat_age_ms"); msgpack_pack_int64 (&pk, 61000);
    s_str (&pk, "stale"); msgpack_pack_true (&pk);
    s_str (&pk, "limits"); msgpack_pack_map (&pk, 2);
    s_str (&pk, "max_primary_streams"); msgpack_pack_nil (&pk);
    s_str (&pk, "max_in_kbps"); msgpack_pack_uint32 (&pk, 100);
    s_str (&pk, "usage"); msgpack_pack_map (&pk, 6);
    s_str (&pk, "cpu_pct"); msgpack_pack_double (&pk, 100);
    s_str (&pk, "mem_used_bytes"); msgpack_pack_uint64 (&pk, 0);
    s_str (&pk, "mem_total_bytes"); msgpack_pack_uint64 (&pk, 0);
    s_str (&pk, "in_kbps"); msgpack_pack_uint32 (&pk, 4200);
    s_str (&pk, "bandwidth_source"); s_str (&pk, "streams");
    s_str (&pk, "disks"); msgpack_pack_array (&pk, 1);
    s_disk (&pk, "/srv", 20, 100);
    s_str (&pk, "counts"); msgpack_pack_map (&pk, 2);
    s_str (&pk, "streams"); msgpack_pack_uint32 (&pk, 12);
    s_str (&pk, "primary"); msgpack_pack_uint32 (&pk, 3);
    //  No heartbeat yet, no limits, no usage, a long id and source
    msgpack_pack_map (&pk, 5);
    s_str (&pk, "id"); s_str (&pk, "a-node-with-a-long-id");
    s_str (&pk, "liveness"); s_str (&pk, "down");
    s_str (&pk, "heartbeat_age_ms"); msgpack_pack_nil (&pk);
    s_str (&pk, "limits"); msgpack_pack_map (&pk, 2);
    s_str (&pk, "max_primary_streams"); msgpack_pack_nil (&pk);
    s_str (&pk, "max_in_kbps"); msgpack_pack_nil (&pk);
    s_str (&pk, "usage"); msgpack_pack_map (&pk, 1);
    s_str (&pk, "bandwidth_source"); s_str (&pk, "interface enp0s31f6-long");
    //  Nothing but an id
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "id"); s_str (&pk, "bare");
}

static char *
s_table (bool color)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_pack_nodes (&buf);
    msgpack_unpacked msg;
    msgpack_unpacked_init (&msg);
    assert_int_equal (msgpack_unpack_next (&msg, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    sf_cli_t cli;
    memset (&cli, 0, sizeof (cli));
    cli.color = color;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    sf_nodes_table (&cli, sf_map_get (&msg.data, "nodes"), out);
    fclose (out);
    msgpack_unpacked_destroy (&msg);
    msgpack_sbuffer_destroy (&buf);
    return text;
}

static const char *s_plain =
    "NODE             LIVENESS   HB AGE  STREAMS   PRIMARY/MAX      IN KBPS/MAX FROM    CPU             MEMORY  DISKS\n"
    "node-a           alive        1.5s        7          5/4!         300/5000 eth0  12.5%    1.4 GiB/7.5 GiB  / 50%, /var/lib/media 99%!\n"
    "node-b           suspect     61.0s       12           3/-     4200/100! streams 100.0%            0 B/0 B  /srv 80%!  [stale: source down, last good state kept]\n"
    "a-node-with-a-long-id down        never        0           0/-      0/- enp0s31f6-lo   0.0%            0 B/0 B  \n"
    "bare                         never        0           0/-                  0/-    0.0%            0 B/0 B  \n"
    "4 nodes\n";

static const char *s_colored =
    "NODE             LIVENESS   HB AGE  STREAMS   PRIMARY/MAX      IN KBPS/MAX FROM    CPU             MEMORY  DISKS\n"
    "node-a           \033[32malive   \033[0m     1.5s        7          5/4!         300/5000 eth0  12.5%    1.4 GiB/7.5 GiB  / 50%, /var/lib/media 99%!\n"
    "node-b           \033[33msuspect \033[0m    61.0s       12           3/-     4200/100! streams 100.0%            0 B/0 B  /srv 80%!  [stale: source down, last good state kept]\n"
    "a-node-with-a-long-id \033[31mdown    \033[0m    never        0           0/-      0/- enp0s31f6-lo   0.0%            0 B/0 B  \n"
    "bare                     \033[0m    never        0           0/-                  0/-    0.0%            0 B/0 B  \n"
    "4 nodes\n";

static void
test_nodes_table_bytes (void **state)
{
    (void) state;
    char *text = s_table (false);
    if (getenv ("SF_PRINT_TABLE"))
        fprintf (stderr, "%s", text);
    assert_string_equal (text, s_plain);
    free (text);
}

static void
test_nodes_table_colour (void **state)
{
    (void) state;
    char *text = s_table (true);
    if (getenv ("SF_PRINT_TABLE"))
        fprintf (stderr, "%s", text);
    assert_string_equal (text, s_colored);
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_nodes_table_bytes),
        cmocka_unit_test (test_nodes_table_colour),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
