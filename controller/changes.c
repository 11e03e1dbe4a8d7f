/*  changes.c — the `changes` request over the change feed (sf_changes.h).

    A cursor is "EPOCH-SEQ" in hex: the feed's epoch (new on every controller
    start, different on every controller) and the last seq the client has
    seen. An empty cursor starts at the feed's head with no changes; a cursor
    of another epoch, or one the ring has moved past, answers gap: true with
    the changes the feed still holds, so the client lists afresh and goes on
    from the new cursor.
*/
#include "sf_changes.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_CHANGES 10000

static void
s_pack_change (msgpack_packer *pk, const sf_feed_entry_t *e)
{
    static const char *ops [] = { "put", "delete", "node" };
    bool put = e->op == SF_FEED_PUT;
    msgpack_pack_map (pk, put ? 12 : e->op == SF_FEED_NODE ? 5 : 5);
    sf_pack_ku64 (pk, "seq", e->seq);
    sf_pack_ki64 (pk, "at_ms", e->at_ms);
    sf_pack_kstr (pk, "op", ops [e->op]);
    sf_pack_kstr (pk, "node", e->node);
    if (e->op == SF_FEED_NODE)
        sf_pack_kstr (pk, "what", e->what);
    else
        sf_pack_kstr (pk, "name", e->name);
    if (put) {
        const sf_summary_t *s = &e->sum;
        //  The derived type: a placement that moved away reads migrated
        sf_pack_kstr (pk, "type", (s->flags & SF_SUM_MIGRATED) ? "migrated" : sf_type_name (s->type));
        sf_pack_kstr (pk, "status", sf_status_name (s->status));
        sf_pack_ku64 (pk, "clients", s->clients);
        sf_pack_ku64 (pk, "bitrate_kbps", s->bitrate_kbps);
        sf_pack_ki64 (pk, "started_at", s->started_at);
        sf_pack_kbool (pk, "transfer", (s->flags & SF_SUM_TRANSFER) != 0);
        sf_pack_kbool (pk, "conflict", (s->flags & SF_SUM_CONFLICT) != 0);
    }
}

//  "EPOCH-SEQ" (hex) into its parts; false when it is not one
static bool
s_cursor_parse (const char *text, uint64_t *epoch, uint64_t *seq)
{
    char *end;
    *epoch = strtoull (text, &end, 16);
    if (end == text || *end != '-')
        return false;
    const char *s = end + 1;
    *seq = strtoull (s, &end, 16);
    return end != s && *end == 0;
}

int
sf_changes_answer (sf_feed_t *feed, const char *after, size_t max, int wait_ms,
                   msgpack_sbuffer *reply)
{
    uint64_t epoch = sf_feed_epoch (feed), their_epoch = 0, since = 0;
    bool start = !after || after [0] == 0;
    bool foreign = false;
    if (!start) {
        if (!s_cursor_parse (after, &their_epoch, &since)) {
            sf_msg_error (reply, "bad_cursor", "'after' is not a cursor (EPOCH-SEQ) of a changes answer");
            return -1;
        }
        foreign = their_epoch != epoch;
    }
    //  max 0: no entries, only whether anything changed (the web page's use)
    if (max > S_MAX_CHANGES)
        max = S_MAX_CHANGES;
    sf_feed_entry_t *out = sf_xmalloc (sizeof (sf_feed_entry_t) * (max ? max : 1));
    bool gap = false;
    uint64_t head = 0;
    size_t n = 0;
    if (start)
        head = sf_feed_head (feed);
    else
    if (foreign) {
        //  Another controller's or an earlier run's cursor: start over here
        head = sf_feed_head (feed);
        gap = true;
    }
    else
        n = sf_feed_read (feed, since, out, max, wait_ms, &gap, &head);
    uint64_t last = n ? out [n - 1].seq
                  : (start || foreign || gap || since > head || max == 0) ? head : since;
    bool changed = !start && (gap || head > since);
    char cursor [64];
    snprintf (cursor, sizeof (cursor), "%" PRIx64 "-%" PRIx64, epoch, last);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "changes_reply", 5);
    sf_pack_kstr (&pk, "cursor", cursor);
    sf_pack_kbool (&pk, "gap", gap);
    sf_pack_kbool (&pk, "changed", changed);
    sf_pack_kbool (&pk, "more", n == max && last < head);
    sf_pack_str (&pk, "changes");
    msgpack_pack_array (&pk, (uint32_t) n);
    for (size_t i = 0; i < n; i++)
        s_pack_change (&pk, &out [i]);
    free (out);
    return 0;
}
