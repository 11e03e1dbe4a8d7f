/*  sf_reply.h — the controller's one reply form, and the one encoding of
    each entity in it (docs/http-api.md lists every shape).

    A query is answered once (controller/api.c) into a msgpack message built
    here; the ZeroMQ endpoint sends that message as it is, and the HTTP API
    and the CLI's `-o json` render the same message as JSON with one
    converter (sf_mpjson.h), so the three cannot disagree.

    The builder counts map entries and array elements itself, as Redis's
    deferred reply lengths do: a container is opened, filled, and closed, and
    its header is patched with the count at close (containers are written
    with 32-bit headers for that). Nobody counts fields by hand, so adding a
    field is one line. Absent values are nil (JSON null): never -1, never "".

        sf_reply_t r;
        sf_reply_begin (&r, sbuf, "list_reply");    //  opens the body map
        sf_reply_kuint (&r, "total", 12);
        sf_reply_key (&r, "streams");
        sf_reply_array (&r);
            sf_reply_stream (&r, &s, NULL, SF_REPLY_ROW, now);
        sf_reply_close (&r);
        sf_reply_end (&r);                          //  closes everything
*/
#ifndef SF_REPLY_H
#define SF_REPLY_H

#include <msgpack.h>
#include "sf_record.h"
#include "sf_fleet.h"           //  the event and timeline entry types

#define SF_REPLY_DEPTH_MAX 16

typedef struct {
    msgpack_sbuffer *sbuf;
    msgpack_packer pk;
    size_t at [SF_REPLY_DEPTH_MAX];         //  header offset of each open container
    uint32_t count [SF_REPLY_DEPTH_MAX];    //  values written into it
    int depth;
} sf_reply_t;

//  Clears sbuf and starts a message of type; the body map is open
void sf_reply_begin (sf_reply_t *self, msgpack_sbuffer *sbuf, const char *type);
//  The same without opening the body: the next value written is the body
//  (a map: an entity encoder's, say)
void sf_reply_start (sf_reply_t *self, msgpack_sbuffer *sbuf, const char *type);
//  Closes every open container (the body last)
void sf_reply_end (sf_reply_t *self);

//  Containers: open, write values (maps: key then value), close
void sf_reply_map (sf_reply_t *self);
void sf_reply_array (sf_reply_t *self);
void sf_reply_close (sf_reply_t *self);

//  A map key (does not count as a value)
void sf_reply_key (sf_reply_t *self, const char *key);
//  Values
void sf_reply_nil (sf_reply_t *self);
void sf_reply_str (sf_reply_t *self, const char *value);       //  NULL: nil
void sf_reply_strn (sf_reply_t *self, const char *value, size_t len);
void sf_reply_text (sf_reply_t *self, const char *value);      //  NULL or "": nil
void sf_reply_int (sf_reply_t *self, int64_t value);
void sf_reply_uint (sf_reply_t *self, uint64_t value);
void sf_reply_real (sf_reply_t *self, double value);           //  NaN, inf: 0
void sf_reply_bool (sf_reply_t *self, bool value);
//  A decoded msgpack value copied as it is (a gossip member, say)
void sf_reply_object (sf_reply_t *self, const msgpack_object *o);
//  Key and value at once
void sf_reply_kstr (sf_reply_t *self, const char *key, const char *value);
void sf_reply_ktext (sf_reply_t *self, const char *key, const char *value);
void sf_reply_kint (sf_reply_t *self, const char *key, int64_t value);
void sf_reply_kuint (sf_reply_t *self, const char *key, uint64_t value);
void sf_reply_kbool (sf_reply_t *self, const char *key, bool value);
void sf_reply_knil (sf_reply_t *self, const char *key);

//  An error message {code, message}, replacing whatever sbuf held
void sf_reply_error (msgpack_sbuffer *sbuf, const char *code, const char *message);

//  -------------------------------------------------------------------------
//  Entities: one encoding each (docs/http-api.md)

//  What a stream encoding holds
#define SF_REPLY_ROW     0x00   //  the listing's fields
#define SF_REPLY_DETAIL  0x01   //  plus config, SDP, DVR with ranges, media, links

//  A placement. node (may be NULL) supplies the link templates and address;
//  without it links are null. now is unix seconds (uptime_s).
void sf_reply_stream (sf_reply_t *self, const sf_stream_t *s, const sf_node_t *node,
                      int flags, int64_t now);
//  The listing's columns, from the field table's COL lines in table order
//  (include/sf_fields.h): an array of {path, header, label, width, format,
//  sort, pair}, for the web page (GET /api/v1/columns, docs/http-api.md)
void sf_reply_columns (sf_reply_t *self);
//  The node listing's columns, from SF_NODE_COLS (include/sf_fields.h): an
//  array of {path, with, header, label, width, format} (GET /api/v1/columns'
//  "nodes", docs/http-api.md)
void sf_reply_node_columns (sf_reply_t *self);
//  A node with its derived liveness, heartbeat age, uptime and counts
void sf_reply_node (sf_reply_t *self, const sf_node_t *n, int64_t now);

//  A placement event {kind, stream, uid, from, to, at_ms, duration_ms, reason}
void sf_reply_event (sf_reply_t *self, const sf_fleet_event_t *ev);
//  A DVR timeline entry {from, to, duration_s, node, name, rtsp, hls}; the
//  map is left open when open is true, for the caller to add fields
void sf_reply_tl_entry (sf_reply_t *self, const sf_tl_entry_t *e, bool open);
#endif
