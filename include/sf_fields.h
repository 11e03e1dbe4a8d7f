/*  sf_fields.h — the one table of the stream and node records' fields.

    Every field of a stream placement and of a node record is one line below:
    where it lives in the C struct, its wire (msgpack) and JSON key, its kind
    and bound, where it appears, how it sorts, its default and its meaning.
    Everything else derives from these lines:
      - the structs sf_stream_t, sf_dvr_t, sf_media_t, sf_node_t (sf_record.h)
      - the codec: pack (map sizes counted from the table), the single-pass
        decoder's field hash, bounds and error messages (proto/codec.c)
      - owned-text handling: clear, copy, reuse (proto/record.c, codec.c)
      - the stored summary sf_summary_t, its encoder and its format id, which
        changes whenever a summary field changes, so the store migrates old
        rows at start (controller/store.c)
      - the sort keys sf_sort_key_t, their names and values (sf_filter.h,
        proto/filter.c, controller/query.c)
      - the read model's numeric columns (one per U32 / I64 SUM line) and
        ordered indexes (one per NUM, PAIR, AGE sort key), their index keys
        and sort values (controller/readmodel.c)
      - the node entity of query replies (sf_reply_node): the node lines'
        REPLY column
      - docs/protocol.md's record field tables (tools/gen-fields.sh)
      - the reply encoder of the stream entity, list rows and detail
        (controller/reply.c, sf_reply_stream): the REPLY column
      - the CLI's `nodes` table (controller/cli/cmd_nodes.c) and the web
        page's node table (GET /api/v1/columns' "nodes", controller/web/app.js):
        SF_NODE_COLS, the node listing's columns, below the node lines
      - the CLI's listing columns and the show's "Now" section
        (controller/cli/cmd_streams.c), and the web page's listing columns
        (GET /api/v1/columns, controller/web/app.js): the COL column
      - the field descriptors (sf_stream_fields, sf_field_value, sf_field_pack)
        below, for code that iterates fields

    A line is X (grp, member, key, kind, bound, where, sum, sort, reply, col, dflt, doc):
      grp     TOP: a top-level key; SOURCE, DVR, MEDIA (stream) or USAGE (node):
              a key inside that nested map. Lines of one group are contiguous;
              the group sits on the wire where its first line is. ALIAS: a
              top-level key that shows another line's member (no member of
              its own).
      member  the C member (inside s->dvr / s->media for DVR / MEDIA)
      key     the wire key, also the JSON key
      kind    STR (char [bound + 1]), TEXT (owned char *, ≤ bound bytes),
              U32, U64, I64, I32U (i64 on the wire; outside 32 bits reads as
              -1, unknown), I32NN (i64 on the wire, 0…2^31−1 else rejected),
              BOOL, DOUBLE, TYPE, STATUS, LIVENESS (a name on the wire, uint8_t
              in C), FUNCS (names on the wire, SF_FN_* bits), VERSION ([gen,
              seq]), RANGES (DVR ranges), DISKS (node disks), TAG (a constant
              string dflt written by senders, never read)
      bound   bytes for STR and TEXT, else 0
      where   SF_F_* bits below (all but SF_F_SUMMARY)
      sum     SUM: kept in the stored summary sf_summary_t (sf_store.h); NOSUM
      sort    NOSORT, or SORT (ID, "name", HOW): sortable as SF_SORT_ID by
              "name"; HOW is NAME / NODE (the row key), NUM (the summary's
              value; the field must be SF_F_SUMMARY), AGE (now − the summary's
              value while active, else -1), PAIR (value << 32 | the next
              summary field), VIEW (the derived view's value: type, status),
              TEXT (the record's text, decoded per row: slow)
      reply   NOREPLY, or REPLY (POS, SECT, "path", HOW): the stream entity of
              query replies (docs/http-api.md) holds it at "path" (a dotted
              path makes a nested map: "reconnects.attempts"), ordered by POS
              (the lines of one reply map need adjacent positions); SECT is
              LIST (list rows and detail) or DETAIL (detail only); HOW is VAL
              (the value as its kind: TYPE and STATUS as names, FUNCS as an
              array of names, VERSION as {gen, seq}, RANGES with their links),
              TEXT (nil when empty), UID (the name when empty), TIME (nil
              when ≤ 0), NNEG (nil when < 0), NZ (nil when 0: no limit) or
              UPTIME (the value, then `uptime_s`: now − it while running —
              a stream active, a node not down —, else 0). Node lines have
              REPLY too: the node entity (sf_reply_node), all in LIST
      col     NOCOL, or COL ("HEADER", "Label", WIDTH, FMT): a listing column,
              in table order: the CLI table's header and width (0: as wide as
              its longest cell), the web page's and the show's label, and
              FMT, how a cell is drawn from the reply row: INT, KBPS (a
              bitrate, while running), AGE (now − it, while running), PAIR
              (it / the next line's value), WORD (text), URL (text, the
              table's last and elastic column); NAME and STATUS are the
              composite cells (type and function marks; transfer, conflict
              and stale marks). A COL line must have a LIST reply.
      dflt    the default, as documented ("" when none)
      doc     the meaning, for docs/protocol.md

    Adding a field: one line here (the struct member, wire key, codec, summary
    and its migration, sort key, the read model's column and ordered index
    (controller/readmodel.c: a U32 SUM line with SORT NUM or PAIR), reply,
    CLI column, the page's column and docs follow), the adapter that fills
    it, and the page only where the column needs a drawing of its own
    (docs/architecture.md, "The field table").
*/
#ifndef SF_FIELDS_H
#define SF_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Where a field appears
#define SF_F_ROW       0x0001   //  on the wire in every form: stored, listing rows, detail
#define SF_F_FULL      0x0002   //  on the wire in the full form only: stored, detail, agents
#define SF_F_DERIVED   0x0004   //  set by the controller at query time; in query replies only
#define SF_F_SUMMARY   0x0008   //  kept in the stored summary (the SUM column sets it)
#define SF_F_LISTED    0x0010   //  a column of the listing (CLI table, web page)
#define SF_F_DETAIL    0x0020   //  shown by detail views (every wire field that is not listed)
#define SF_F_REQUIRED  0x0040   //  decoding rejects a record without it (or with it empty)

#define SF_STREAM_FIELDS(X) \
    X (TOP, name, "name", STR, SF_NAME_MAX, SF_F_ROW | SF_F_LISTED | SF_F_REQUIRED, NOSUM, \
       SORT (NAME, "name", NAME), \
       REPLY (1, LIST, "name", VAL), COL ("NAME", "Name", 0, NAME), "", "stream name, unique per node") \
    X (TOP, uid, "uid", STR, SF_NAME_MAX, SF_F_ROW | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (2, LIST, "uid", UID), NOCOL, "= `name`", \
       "stable stream id across nodes (migration tracking joins on it); empty means the name") \
    X (TOP, node, "node", STR, SF_NODE_MAX, SF_F_ROW | SF_F_LISTED, NOSUM, SORT (NODE, "node", NODE), \
       REPLY (3, LIST, "node", VAL), COL ("NODE", "Node", 0, WORD), \
       "the sender's", "owning node. If present and non-empty it MUST equal the node in the " \
       "sender's certificate (else `forbidden`); the controller sets it") \
    X (TOP, type, "type", TYPE, 0, SF_F_ROW | SF_F_LISTED, SUM, SORT (TYPE, "type", VIEW), \
       REPLY (4, LIST, "type", VAL), NOCOL, \
       "`primary`", "`primary` \\| `secondary` \\| `migrated`. `secondary`: a standby copy, normally " \
       "`suspend`. `migrated` is derived by the controller: a `put` claiming it is refused " \
       "(`forbidden`, below)") \
    X (TOP, status, "status", STATUS, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       SORT (STATUS, "status", VIEW), \
       REPLY (5, LIST, "status", VAL), COL ("STATUS", "Status", 0, STATUS), "`active`", "`active` \\| `suspend` \\| `starting` \\| `error` " \
       "\\| `offline`. `offline` is derived on read (owning node down); an agent's `offline` is " \
       "stored as `error`") \
    X (TOP, functions, "functions", FUNCS, 0, SF_F_ROW | SF_F_LISTED, SUM, NOSORT, \
       REPLY (8, LIST, "functions", VAL), NOCOL, "none", \
       "array (≤8) of `dvr`, `photo`, `audio` — or u64 bit set 0…7 (1 dvr, 2 photo, 4 audio); " \
       "unknown names reject the record") \
    X (TOP, stale, "stale", BOOL, 0, SF_F_ROW | SF_F_LISTED, NOSUM, NOSORT, \
       REPLY (18, LIST, "stale", VAL), NOCOL, "false", \
       "the agent's source failed; this is the last good state") \
    X (TOP, clients, "clients", U32, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       SORT (CLIENTS, "clients", NUM), \
       REPLY (9, LIST, "clients", VAL), COL ("CLIENTS", "Clients", 7, INT), "0", "viewers now") \
    X (TOP, bitrate_kbps, "bitrate_kbps", U32, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       SORT (BITRATE, "bitrate", NUM), \
       REPLY (10, LIST, "bitrate_kbps", VAL), COL ("BITRATE", "Bitrate", 12, KBPS), "0", "input bitrate") \
    X (TOP, started_at, "started_at", I64, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       SORT (UPTIME, "uptime", AGE), \
       REPLY (11, LIST, "started_at", UPTIME), COL ("UPTIME", "Uptime", 9, AGE), "0", "when the stream last started (uptime = now − " \
       "started_at); 0 when not running") \
    X (TOP, reconnect_attempts, "reconnect_attempts", U32, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       SORT (RECONNECTS, "reconnects", PAIR), \
       REPLY (12, LIST, "reconnects.attempts", VAL), COL ("RECONN", "Reconnects", 7, PAIR), "0", "attempts since the last successful connect") \
    X (TOP, reconnect_total, "reconnect_total", U32, 0, SF_F_ROW | SF_F_LISTED, SUM, \
       NOSORT, \
       REPLY (13, LIST, "reconnects.total", VAL), NOCOL, "0", "attempts in total") \
    X (SOURCE, source_url, "url", TEXT, SF_URL_MAX, SF_F_ROW | SF_F_LISTED, NOSUM, \
       SORT (SOURCE, "source", TEXT), \
       REPLY (14, LIST, "source.url", TEXT), COL ("SOURCE", "Source", 0, URL), "", "the source's URL") \
    X (SOURCE, source_sdp, "sdp", TEXT, SF_TEXT_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (15, DETAIL, "source.sdp", TEXT), NOCOL, "", \
       "session description") \
    X (SOURCE, ping_ms, "ping_ms", I32U, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (16, LIST, "source.ping_ms", NNEG), NOCOL, "−1", \
       "round trip to the source; outside the 32-bit range or absent: −1, unknown") \
    X (TOP, version, "version", VERSION, 0, SF_F_ROW | SF_F_DETAIL, SUM, NOSORT, \
       REPLY (21, LIST, "version", VAL), NOCOL, "", \
       "the origin's version of this record. Ignored on ingest (the controller stamps the " \
       "change's own version); present in replies") \
    X (TOP, config, "config", TEXT, SF_TEXT_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (22, DETAIL, "config", TEXT), NOCOL, "", \
       "the stream's configuration text on that server") \
    X (TOP, config_path, "config_path", TEXT, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (23, DETAIL, "config_path", TEXT), NOCOL, "", \
       "where that configuration lives") \
    X (TOP, playback_uuid, "playback_uuid", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (17, LIST, "playback_uuid", TEXT), NOCOL, "", \
       "playback UUID") \
    X (TOP, transferred_from, "transferred_from", STR, SF_NODE_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (20, LIST, "transferred_from", TEXT), NOCOL, \
       "", "the node this stream was transferred from, declared by the new placement") \
    X (TOP, rtsp_template, "rtsp_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, NOREPLY, NOCOL, "", \
       "per-stream RTSP link template, overrides the node's (section 4.1.3)") \
    X (TOP, hls_template, "hls_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, NOREPLY, NOCOL, "", \
       "per-stream HLS link template, overrides the node's (section 4.1.3)") \
    X (TOP, rtmp_template, "rtmp_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, NOREPLY, NOCOL, "", \
       "per-stream RTMP link template, overrides the node's (section 4.1.3)") \
    X (DVR, records_path, "records_path", TEXT, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (24, DETAIL, "dvr.records_path", TEXT), NOCOL, "", \
       "where the archive lies on disk") \
    X (DVR, depth_s, "depth_s", I64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (25, DETAIL, "dvr.depth_s", VAL), NOCOL, "0", "retention") \
    X (DVR, chunk_s, "chunk_s", I32NN, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (26, DETAIL, "dvr.chunk_s", VAL), NOCOL, "0", "chunk length") \
    X (DVR, disk_free_bytes, "disk_free_bytes", U64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (27, DETAIL, "dvr.disk_free_bytes", VAL), NOCOL, "0", \
       "free space on the archive's disk") \
    X (DVR, memory_bytes, "memory_bytes", U64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (28, DETAIL, "dvr.memory_bytes", VAL), NOCOL, "0", \
       "memory the recorder uses") \
    X (DVR, current_from, "current_from", I64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (29, DETAIL, "dvr.current_from", TIME), NOCOL, "0", \
       "start of the running recording; 0 if none") \
    X (DVR, ranges, "ranges", RANGES, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (30, DETAIL, "dvr.ranges", VAL), NOCOL, "", \
       "archive ranges. Receivers sort them and merge ranges whose gap is ≤ 1 s") \
    X (MEDIA, vcodec, "vcodec", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (31, DETAIL, "media.vcodec", TEXT), NOCOL, "", "video codec") \
    X (MEDIA, width, "width", U32, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (32, DETAIL, "media.width", VAL), NOCOL, "0", "picture width") \
    X (MEDIA, height, "height", U32, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (33, DETAIL, "media.height", VAL), NOCOL, "0", "picture height") \
    X (MEDIA, fps, "fps", DOUBLE, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (34, DETAIL, "media.fps", VAL), NOCOL, "0", "frames per second") \
    X (MEDIA, acodec, "acodec", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (35, DETAIL, "media.acodec", TEXT), NOCOL, "", "audio codec") \
    X (TOP, changed_at_ms, "changed_at_ms", I64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, NOREPLY, NOCOL, "0", \
       "the origin's wall clock (unix ms) at this record's last change; 0 unknown") \
    X (TOP, started_at_ms, "started_at_ms", I64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, NOREPLY, NOCOL, "0", \
       "when the stream last started, unix ms, where the media server tells it to the " \
       "millisecond (docs/adapters.md); 0 unknown (an older agent, or a server that tells " \
       "seconds): `started_at` holds the second. Migration tracking orders two starts by it " \
       "when both have it (docs/migrations.md)") \
    X (TOP, transfer, "transfer", BOOL, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, \
       REPLY (6, LIST, "transfer", VAL), NOCOL, "false", \
       "derived by the controller (in replies): the stream is moving between nodes. A `put` " \
       "with `transfer: true` is refused (`forbidden`, below)") \
    X (TOP, conflict, "conflict", BOOL, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, \
       REPLY (7, LIST, "conflict", VAL), NOCOL, "false", \
       "derived by the controller (in replies): the stream runs here and on another node and is " \
       "not moving between them (a stale copy). Ignored on ingest") \
    X (TOP, migrated_to, "migrated_to", STR, SF_NODE_MAX, SF_F_DERIVED | SF_F_DETAIL, NOSUM, NOSORT, \
       REPLY (19, LIST, "migrated_to", TEXT), NOCOL, "", \
       "derived: the node this placement's stream moved to. A `put` with a non-empty one is " \
       "refused (`forbidden`, below)")

#define SF_NODE_FIELDS(X) \
    X (TOP, id, "id", STR, SF_NODE_MAX, SF_F_FULL | SF_F_LISTED | SF_F_REQUIRED, NOSUM, NOSORT, REPLY (1, LIST, "id", VAL), NOCOL, "", \
       "node id; MUST equal the node in the agent's certificate (else `forbidden`)") \
    X (TOP, addr_internal, "addr_internal", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (6, LIST, "addr_internal", TEXT), NOCOL, "", \
       "internal address") \
    X (TOP, addr_external, "addr_external", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (7, LIST, "addr_external", TEXT), NOCOL, "", \
       "external address; links use it") \
    X (TOP, group, "group", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (8, LIST, "group", TEXT), NOCOL, "", \
       "`public`, `private` or `all`") \
    X (TOP, max_primary_streams, "max_primary_streams", U32, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (11, LIST, "limits.max_primary_streams", NZ), NOCOL, \
       "0", "limit, 0 = none") \
    X (TOP, max_in_kbps, "max_in_kbps", U32, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (12, LIST, "limits.max_in_kbps", NZ), NOCOL, "0", \
       "limit, 0 = none") \
    X (TOP, software_version, "software_version", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_LISTED, NOSUM, \
       NOSORT, REPLY (9, LIST, "software_version", TEXT), NOCOL, "", "the media server's software version") \
    X (TOP, started_at, "started_at", I64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (10, LIST, "started_at", UPTIME), NOCOL, "0", \
       "when the node's agent started (unix seconds)") \
    X (TOP, rtsp_template, "rtsp_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (23, LIST, "templates.rtsp", TEXT), NOCOL, "", \
       "live RTSP link template (4.1.3)") \
    X (TOP, hls_template, "hls_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (24, LIST, "templates.hls", TEXT), NOCOL, "", \
       "live HLS link template (4.1.3)") \
    X (TOP, rtmp_template, "rtmp_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (25, LIST, "templates.rtmp", TEXT), NOCOL, "", \
       "live RTMP link template (4.1.3); empty: no RTMP link") \
    X (TOP, rtsp_dvr_template, "rtsp_dvr_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, \
       NOSORT, REPLY (26, LIST, "templates.rtsp_dvr", TEXT), NOCOL, "", "archive RTSP link template (4.1.3)") \
    X (TOP, hls_dvr_template, "hls_dvr_template", STR, SF_ADDR_MAX, SF_F_FULL | SF_F_DETAIL, NOSUM, \
       NOSORT, REPLY (27, LIST, "templates.hls_dvr", TEXT), NOCOL, "", "archive HLS link template (4.1.3)") \
    X (USAGE, cpu_pct, "cpu_pct", DOUBLE, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (13, LIST, "usage.cpu_pct", VAL), NOCOL, "0", "CPU use, percent") \
    X (USAGE, mem_used_bytes, "mem_used_bytes", U64, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (14, LIST, "usage.mem_used_bytes", VAL), NOCOL, "0", \
       "memory in use") \
    X (USAGE, mem_total_bytes, "mem_total_bytes", U64, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (15, LIST, "usage.mem_total_bytes", VAL), NOCOL, "0", \
       "memory in total") \
    X (USAGE, in_kbps, "in_kbps", U32, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (16, LIST, "usage.in_kbps", VAL), NOCOL, "0", "traffic in") \
    X (USAGE, out_kbps, "out_kbps", U32, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (17, LIST, "usage.out_kbps", VAL), NOCOL, "0", "traffic out") \
    X (USAGE, bandwidth_source, "bandwidth_source", STR, SF_SHORT_MAX, SF_F_FULL | SF_F_LISTED, NOSUM, \
       NOSORT, REPLY (18, LIST, "usage.bandwidth_source", TEXT), NOCOL, "", "where in/out_kbps come from: `interface NAME` (its counters) or `streams` (the sum " \
       "of the node's stream bitrates; out = each to its viewers)") \
    X (USAGE, disks, "disks", DISKS, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (19, LIST, "usage.disks", VAL), NOCOL, "", \
       "array (≤16) of maps {`mount` str≤256, `free_bytes` u64, `total_bytes` u64}") \
    X (TOP, heartbeat, "heartbeat", U64, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (4, LIST, "heartbeat", VAL), NOCOL, "0", \
       "heartbeat counter; ignored from agents") \
    X (TOP, stale, "stale", BOOL, 0, SF_F_FULL | SF_F_LISTED, NOSUM, NOSORT, REPLY (5, LIST, "stale", VAL), NOCOL, "false", \
       "the agent's source is down (no good state read since the agent started, or failing " \
       "now): the node's placements are its last good state. Set from heartbeats; ignored in " \
       "node records from agents") \
    X (TOP, version, "version", VERSION, 0, SF_F_FULL | SF_F_DETAIL, NOSUM, NOSORT, REPLY (28, LIST, "version", VAL), NOCOL, "", \
       "ignored on ingest, present in replies") \
    X (TOP, snapshot_floor, "snapshot_floor", VERSION, 0, SF_F_FULL, NOSUM, NOSORT, NOREPLY, NOCOL, "[0, 0]", \
       "set by controllers, ignored from agents: the lowest version of the placements in the node's " \
       "last snapshot; a placement of the node below it that was not in that snapshot is gone " \
       "([0, 0]: none; controllers gossip it with the node record)") \
    X (TOP, kind, "kind", TAG, 0, SF_F_FULL, NOSUM, NOSORT, NOREPLY, NOCOL, "node", "`\"node\"`, written by senders, not read") \
    X (TOP, liveness, "liveness", LIVENESS, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, REPLY (2, LIST, "liveness", VAL), NOCOL, "", \
       "derived: `alive`, `suspect` or `down`") \
    X (TOP, heartbeat_age_ms, "heartbeat_age_ms", I64, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, REPLY (3, LIST, "heartbeat_age_ms", NNEG), NOCOL, "", \
       "derived: time since the last heartbeat; −1 if never seen") \
    X (TOP, nstreams, "nstreams", U32, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, REPLY (20, LIST, "counts.streams", VAL), NOCOL, "", \
       "derived: placements on the node") \
    X (TOP, nprimary, "nprimary", U32, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, REPLY (21, LIST, "counts.primary", VAL), NOCOL, "", \
       "derived: primary placements") \
    X (TOP, nactive, "nactive", U32, 0, SF_F_DERIVED | SF_F_LISTED, NOSUM, NOSORT, REPLY (22, LIST, "counts.active", VAL), NOCOL, "", \
       "derived: active placements") \
    X (ALIAS, in_kbps, "in_kbps_total", U32, 0, SF_F_DERIVED, NOSUM, NOSORT, NOREPLY, NOCOL, "", \
       "derived: the same as `usage.in_kbps`")

//  ---------------------------------------------------------------------------
//  Struct members from the table (used by sf_record.h)

#define SF_DECL_STR(m, b)       char m [(b) + 1];
#define SF_DECL_TEXT(m, b)      char *m;
#define SF_DECL_U32(m, b)       uint32_t m;
#define SF_DECL_U64(m, b)       uint64_t m;
#define SF_DECL_I64(m, b)       int64_t m;
#define SF_DECL_I32U(m, b)      int32_t m;
#define SF_DECL_I32NN(m, b)     int32_t m;
#define SF_DECL_BOOL(m, b)      bool m;
#define SF_DECL_DOUBLE(m, b)    double m;
#define SF_DECL_TYPE(m, b)      uint8_t m;
#define SF_DECL_STATUS(m, b)    uint8_t m;
#define SF_DECL_LIVENESS(m, b)  uint8_t m;
#define SF_DECL_FUNCS(m, b)     uint8_t m;
#define SF_DECL_VERSION(m, b)   sf_version_t m;
#define SF_DECL_RANGES(m, b)    sf_range_t *m; uint32_t n##m;
#define SF_DECL_DISKS(m, b)     sf_disk_t m [SF_DISKS_MAX]; uint32_t n##m;
#define SF_DECL_TAG(m, b)

//  Members of one group: SF_STREAM_FIELDS (SF_DECL_IN_TOP) and so on
#define SF_DECL_ONLY_TOP(m, k, b)    SF_DECL_##k (m, b)
#define SF_DECL_ONLY_SOURCE(m, k, b) SF_DECL_##k (m, b)
#define SF_DECL_ONLY_USAGE(m, k, b)  SF_DECL_##k (m, b)
#define SF_DECL_ONLY_ALIAS(m, k, b)
#define SF_DECL_ONLY_DVR(m, k, b)
#define SF_DECL_ONLY_MEDIA(m, k, b)
#define SF_DECL_IN_TOP(g, m, key, k, b, w, su, s, rp, cl, d, doc)   SF_DECL_ONLY_##g (m, k, b)
#define SF_DECL_IN_DVR_DVR(m, k, b)     SF_DECL_##k (m, b)
#define SF_DECL_IN_DVR_TOP(m, k, b)
#define SF_DECL_IN_DVR_SOURCE(m, k, b)
#define SF_DECL_IN_DVR_MEDIA(m, k, b)
#define SF_DECL_IN_DVR(g, m, key, k, b, w, su, s, rp, cl, d, doc)   SF_DECL_IN_DVR_##g (m, k, b)
#define SF_DECL_IN_MEDIA_MEDIA(m, k, b) SF_DECL_##k (m, b)
#define SF_DECL_IN_MEDIA_TOP(m, k, b)
#define SF_DECL_IN_MEDIA_SOURCE(m, k, b)
#define SF_DECL_IN_MEDIA_DVR(m, k, b)
#define SF_DECL_IN_MEDIA(g, m, key, k, b, w, su, s, rp, cl, d, doc) SF_DECL_IN_MEDIA_##g (m, k, b)

//  The C path of a member inside its record
#define SF_PATH_TOP(m)      m
#define SF_PATH_SOURCE(m)   m
#define SF_PATH_USAGE(m)    m
#define SF_PATH_ALIAS(m)    m
#define SF_PATH_DVR(m)      dvr.m
#define SF_PATH_MEDIA(m)    media.m

//  ---------------------------------------------------------------------------
//  The stored summary: the SUM lines, in table order, behind a fixed header.
//  Every format keeps magic at offset 0, flags at offset 4 and its own size
//  at offset 6 (the first format, "SFS1", was 48 bytes with flags at 7); the magic
//  names the format (sf_summary_magic), so the store can tell old rows and
//  migrate them at start (controller/store.c).

#define SF_SUM_DECL_U32(m)      uint32_t m;
#define SF_SUM_DECL_U64(m)      uint64_t m;
#define SF_SUM_DECL_I64(m)      int64_t m;
#define SF_SUM_DECL_BOOL(m)     bool m;
#define SF_SUM_DECL_DOUBLE(m)   double m;
#define SF_SUM_DECL_TYPE(m)     uint8_t m;
#define SF_SUM_DECL_STATUS(m)   uint8_t m;
#define SF_SUM_DECL_FUNCS(m)    uint8_t m;
#define SF_SUM_DECL_VERSION(m)  uint64_t gen; uint64_t seq;
#define SF_SUM_NOSUM(m, k)
#define SF_SUM_SUM(m, k)        SF_SUM_DECL_##k (m)
#define SF_SUM_DECL(g, m, key, k, b, w, su, s, rp, cl, d, doc) SF_SUM_##su (m, k)

typedef struct {
    uint32_t magic;             //  sf_summary_magic (): the format
    uint8_t flags;              //  SF_SUM_* (sf_store.h)
    uint8_t reserved;
    uint16_t size;              //  sizeof (sf_summary_t): where the record starts
    SF_STREAM_FIELDS (SF_SUM_DECL)
} sf_summary_t;

//  Copies the SUM lines of stream s into summary sum: SF_STREAM_FIELDS (SF_SUM_SET).
//  The value is read at the line's C path (SF_PATH_##grp: s->dvr.depth_s for a
//  DVR line), so a nested record field can be kept too; its summary member is
//  the line's member (members are unique across the stream's groups)
#define SF_SUM_SET_K_U32(m, v)      sum->m = (v);
#define SF_SUM_SET_K_U64(m, v)      sum->m = (v);
#define SF_SUM_SET_K_I64(m, v)      sum->m = (v);
#define SF_SUM_SET_K_BOOL(m, v)     sum->m = (v);
#define SF_SUM_SET_K_DOUBLE(m, v)   sum->m = (v);
#define SF_SUM_SET_K_TYPE(m, v)     sum->m = (v);
#define SF_SUM_SET_K_STATUS(m, v)   sum->m = (v);
#define SF_SUM_SET_K_FUNCS(m, v)    sum->m = (v);
#define SF_SUM_SET_K_VERSION(m, v)  sum->gen = (v).gen; sum->seq = (v).seq;
#define SF_SUM_SET_NOSUM(g, m, k)
#define SF_SUM_SET_SUM(g, m, k)     SF_SUM_SET_K_##k (m, s->SF_PATH_##g (m))
#define SF_SUM_SET(g, m, key, k, b, w, su, s, rp, cl, d, doc) SF_SUM_SET_##su (g, m, k)

//  The current format's magic: "SF" and a hash of the summary's layout (its
//  fields' keys, kinds, offsets and sizes), so any change to a SUM line
//  changes it. The first format (before the table) was "SFS1".
uint32_t sf_summary_magic (void);
#define SF_SUMMARY_MAGIC (sf_summary_magic ())
#define SF_SUMMARY_MAGIC_V1 0x53465331u
//  A summary sort value for sort key k (NUM, AGE, PAIR; 0 for the others):
//  now_s and active serve AGE
int64_t sf_summary_sort_value (const sf_summary_t *sum, int key, int64_t now_s, bool active);

//  ---------------------------------------------------------------------------
//  The node listing's columns: the CLI `nodes` table (sf_nodes_table,
//  controller/cli/cmd_nodes.c) and the web page's node table (GET
//  /api/v1/columns' "nodes", controller/web/app.js), in table order. Almost
//  every node cell combines several fields, so these are a list of their
//  own beside the node lines. A line is
//  X ("HEADER", "Label", WIDTH, FMT, "path", "with"):
//    HEADER  the CLI table's header; "" for a mark (no header, printed right
//            after the cell before it: the stale mark)
//    Label   the page's header
//    WIDTH   the CLI cell width (bytes, padded); 0: the last, elastic column
//            (two spaces before it, not padded)
//    FMT     how a cell is drawn from the node entity (docs/http-api.md), one
//            formatter per FMT in each consumer: WORD (text, left), LIVENESS
//            (the word, left, coloured), HBAGE (ms as "1.5s", "never" when
//            null), INT, PCT (percent, one decimal), LIMIT (path / with, "-"
//            when with is null, "!" over it), BANDWIDTH (a LIMIT, then
//            usage.bandwidth_source: an interface's name or "streams"),
//            MEMORY (path / with as bytes), DISKS (each disk's mount and
//            percent used, "!" at 80% or more), STALE (the stale mark)
//    path    the node entity's value the cell shows (a dotted path)
//    with    the second value of LIMIT, BANDWIDTH, MEMORY; NULL
//  Adding a node column: a line here, and a formatter per consumer (the
//  CLI's s_fmts, the page's NODE_FORMATS in controller/web/app.js) only for
//  a new FMT; the page draws its node table from these lines as served.
#define SF_NODE_COLS(X) \
    X ("NODE", "Node", 16, WORD, "id", NULL) \
    X ("LIVENESS", "Liveness", 8, LIVENESS, "liveness", NULL) \
    X ("HB AGE", "Heartbeat", 8, HBAGE, "heartbeat_age_ms", NULL) \
    X ("STREAMS", "Streams", 8, INT, "counts.streams", NULL) \
    X ("PRIMARY/MAX", "Primary / max", 13, LIMIT, "counts.primary", "limits.max_primary_streams") \
    X ("IN KBPS/MAX FROM", "In kbit/s / max", 21, BANDWIDTH, "usage.in_kbps", "limits.max_in_kbps") \
    X ("CPU", "CPU", 6, PCT, "usage.cpu_pct", NULL) \
    X ("MEMORY", "Memory", 18, MEMORY, "usage.mem_used_bytes", "usage.mem_total_bytes") \
    X ("DISKS", "Disks", 0, DISKS, "usage.disks", NULL) \
    X ("", "", 0, STALE, "stale", NULL)

typedef enum {
    SF_NF_WORD, SF_NF_LIVENESS, SF_NF_HBAGE, SF_NF_INT, SF_NF_PCT, SF_NF_LIMIT, SF_NF_BANDWIDTH,
    SF_NF_MEMORY, SF_NF_DISKS, SF_NF_STALE, SF_NF_COUNT
} sf_node_col_fmt_t;

typedef struct {
    const char *header;         //  "PRIMARY/MAX", "" for a mark, NULL ends the list
    const char *label;          //  "Primary / max"
    uint8_t width;              //  CLI width, 0: the elastic last column or a mark
    uint8_t fmt;                //  sf_node_col_fmt_t
    const char *path;           //  "counts.primary"
    const char *with;           //  "limits.max_primary_streams", or NULL
} sf_node_col_t;

//  The columns in table order, ended by one with header NULL
extern const sf_node_col_t sf_node_cols [];
//  The name of a node FMT, as GET /api/v1/columns writes it ("limit")
const char *sf_node_col_fmt_name (int fmt);

//  ---------------------------------------------------------------------------
//  Sort keys (sf_filter.h): one per SORT (...) line, in table order

#define SF_SORT_ENUM_NOSORT
#define SF_SORT_ENUM_SORT(id, name, how)    SF_SORT_##id,
#define SF_SORT_ENUM(g, m, key, k, b, w, su, s, rp, cl, d, doc) SF_SORT_ENUM_##s
typedef enum {
    SF_STREAM_FIELDS (SF_SORT_ENUM)
    SF_SORT_COUNT
} sf_sort_key_t;

//  How a sort key gets its value (SORT's HOW)
typedef enum {
    SF_SORT_BY_NAME, SF_SORT_BY_NODE, SF_SORT_BY_NUM, SF_SORT_BY_AGE, SF_SORT_BY_PAIR,
    SF_SORT_BY_VIEW, SF_SORT_BY_TEXT
} sf_sort_by_t;

//  ---------------------------------------------------------------------------
//  Field descriptors: the table at run time, for code that iterates fields
//  (the codec, the reply encoders, the CLI columns, the docs generator)

typedef enum {
    SF_K_STR, SF_K_TEXT, SF_K_U32, SF_K_U64, SF_K_I64, SF_K_I32U, SF_K_I32NN, SF_K_BOOL,
    SF_K_DOUBLE, SF_K_TYPE, SF_K_STATUS, SF_K_LIVENESS, SF_K_FUNCS, SF_K_VERSION, SF_K_RANGES,
    SF_K_DISKS, SF_K_TAG, SF_K_COUNT
} sf_kind_t;

typedef struct {
    const char *key;            //  wire and JSON key ("url")
    const char *path;           //  dotted path from the record's top ("source.url")
    const char *group;          //  NULL at the top, else the nested map's key ("source")
    const char *member;         //  C member ("source_url")
    size_t offset;              //  of the member in the record
    uint32_t bound;             //  bytes for STR and TEXT
    uint16_t where;             //  SF_F_*
    uint8_t kind;               //  sf_kind_t
    int8_t sort;                //  sf_sort_key_t, -1 if not sortable
    const char *dflt;
    const char *doc;
    //  REPLY (...): 0 / NULL for NOREPLY
    uint16_t reply_pos;         //  order in the stream entity
    uint8_t reply_sect;         //  sf_reply_sect_t
    uint8_t reply_how;          //  sf_reply_how_t
    const char *reply_path;     //  "reconnects.attempts"
    //  COL (...): col_header NULL for NOCOL
    const char *col_header;     //  "CLIENTS"
    const char *col_label;      //  "Clients"
    uint8_t col_width;          //  CLI width, 0: as wide as the longest cell
    uint8_t col_fmt;            //  sf_col_fmt_t
} sf_field_t;

//  Where a field is in the stream entity of replies (REPLY's SECT)
typedef enum { SF_RS_NONE, SF_RS_LIST, SF_RS_DETAIL } sf_reply_sect_t;
//  How a reply writes it (REPLY's HOW)
typedef enum {
    SF_RH_VAL, SF_RH_TEXT, SF_RH_UID, SF_RH_TIME, SF_RH_NNEG, SF_RH_NZ, SF_RH_UPTIME
} sf_reply_how_t;
//  How a listing cell is drawn (COL's FMT)
typedef enum {
    SF_CF_NAME, SF_CF_WORD, SF_CF_STATUS, SF_CF_INT, SF_CF_KBPS, SF_CF_AGE, SF_CF_PAIR,
    SF_CF_URL, SF_CF_COUNT
} sf_col_fmt_t;
//  The name of a FMT, as GET /api/v1/columns writes it ("int", "kbps")
const char *sf_col_fmt_name (int fmt);

//  The stream fields that have a REPLY, in reply order (POS), ended by NULL
const sf_field_t *const *sf_reply_fields (void);
//  The same for the node's fields (the node entity)
const sf_field_t *const *sf_reply_node_fields (void);
//  The reply path's key and group: "reconnects.attempts" is key "attempts"
//  in group "reconnects" (group_len 10); a top-level key has group_len 0
const char *sf_field_reply_key (const sf_field_t *f, size_t *group_len);

//  The descriptors in table order, ended by one with key NULL
extern const sf_field_t sf_stream_fields [];
extern const sf_field_t sf_node_fields [];
//  A field by its key or dotted path ("clients", "source.url"); NULL if none
const sf_field_t *sf_field_find (const sf_field_t *table, const char *path);
//  The name of a kind as docs/protocol.md writes types ("u32", "str≤128")
const char *sf_kind_doc (const sf_field_t *f, char *buf, size_t size);

//  A field's value, neutral: what a reply encoder or a CLI cell needs.
//  Pointers refer into the record (or into static names): valid while it is.
typedef enum {
    SF_V_NULL,                  //  absent (an empty text, an unknown ping)
    SF_V_STR,                   //  str (also TYPE, STATUS, LIVENESS, TAG as names)
    SF_V_UINT, SF_V_INT, SF_V_DOUBLE, SF_V_BOOL,
    SF_V_FUNCS,                 //  u: SF_FN_* bits (sf_functions_str names them)
    SF_V_VERSION,               //  gen, seq
    SF_V_RANGES,                //  ranges, n
    SF_V_DISKS                  //  disks, n
} sf_vtype_t;

typedef struct {
    uint8_t type;               //  sf_vtype_t
    const char *str;
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    uint64_t gen, seq;
    const void *items;          //  const sf_range_t * or const sf_disk_t *
    uint32_t n;
} sf_value_t;

//  Reads field f of a record (an sf_stream_t for sf_stream_fields, an
//  sf_node_t for sf_node_fields) into out. Always succeeds.
void sf_field_value (const sf_field_t *f, const void *record, sf_value_t *out);
//  Writes field f's value as msgpack (the value only, not the key), exactly
//  as the codec writes it on the wire
#include <msgpack.h>
void sf_field_pack (msgpack_packer *pk, const sf_field_t *f, const void *record);

//  How sort key k gets its value, and its field
sf_sort_by_t sf_sort_by (int key);
const sf_field_t *sf_sort_field (int key);

//  Markdown tables of the record fields, as docs/protocol.md holds them
//  between its fields:stream / fields:node begin and end markers
//  (tools/gen-fields.sh); which is "stream" or "node"
#include <stdio.h>
void sf_fields_markdown (FILE *out, const char *which);

#endif
