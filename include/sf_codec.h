/*  sf_codec.h — msgpack encoding of records and protocol messages.

    Every ZeroMQ frame carries one message: a msgpack array
        [ protocol-version, "type", { body map } ]
    docs/protocol.md specifies every type and field. Decoding never trusts its
    input: types, string lengths, array counts and nesting are checked, unknown
    body keys are ignored, and every failure returns -1 with a reason an operator
    can read. Nothing here asserts on input or allocates per record beyond the
    record's own owned texts.
*/
#ifndef SF_CODEC_H
#define SF_CODEC_H

#include <msgpack.h>
#include "sf_record.h"

#define SF_PROTOCOL_VERSION 1
#define SF_FRAME_MAX (16 * 1024 * 1024)     //  one frame (protocol §2.3): larger is `bounds`
//  Agent flow control (docs/protocol.md, "Flow control"): an agent stamps
//  each message it sends with "n" (rising for the life of the process) and
//  has at most SF_AGENT_WINDOW batches or snapshot chunks, plus
//  SF_AGENT_WINDOW_CTL heartbeats and hellos, sent that the controller has
//  not said it read ("read" in its acks and credit messages). The
//  controller tells what it read at least every SF_AGENT_CREDIT_EVERY
//  messages, fewer than the window, so a window never closes for good.
//  The controller's agents ROUTER has no receive HWM and its own reader
//  thread (sf_agentio.h), so libzmq never stops reading a connection,
//  whatever an agent does: a stopped input is the precondition of libzmq
//  4.3.4's `!_io_error` abort (stream_engine_base.cpp:331, zeromq/libzmq
//  3937, 4364, 4767) when that connection then fails (docs/operations.md).
//  Invariant: that thread's per-connection queue (SF_AGENTIO_QUEUE_MAX)
//  stays well above what an agent can have in flight, so a window-keeping
//  agent never loses a message to it. SF_AGENTS_RCVHWM is the query
//  socket's receive HWM.
#define SF_AGENT_WINDOW 32
#define SF_AGENT_WINDOW_CTL 8
#define SF_AGENT_CREDIT_EVERY 8
#define SF_AGENTS_RCVHWM 200
_Static_assert (SF_AGENTS_RCVHWM >= 4 * (SF_AGENT_WINDOW + SF_AGENT_WINDOW_CTL),
                "the agents' RCVHWM must stay well above an agent's window");
_Static_assert (SF_AGENT_CREDIT_EVERY < SF_AGENT_WINDOW, "credit must come before a window closes");
//  What libzmq's ZMQ_MAXMSGSIZE is set to on every socket: it counts the
//  CURVE box (33 bytes more than the frame: "\x07MESSAGE", an 8-byte nonce,
//  a 16-byte tag and a flags byte) and leaves 1 MiB above SF_FRAME_MAX, so
//  a frame of exactly 16 MiB arrives and one a little larger is answered
//  `error bounds` by the decoder instead of dropping the connection unseen
#define SF_CURVE_OVERHEAD 33
#define SF_FRAME_SLACK (1024 * 1024)
#define SF_SOCKET_MSG_MAX (SF_FRAME_MAX + SF_FRAME_SLACK + SF_CURVE_OVERHEAD)
#define SF_ERR_MAX 256

//  Why a message was rejected; used for counters and logs
typedef enum {
    SF_REJ_NONE = 0,
    SF_REJ_MALFORMED,       //  not msgpack, or not the envelope
    SF_REJ_VERSION,         //  protocol version we do not speak
    SF_REJ_TYPE,            //  unknown message type
    SF_REJ_FIELD,           //  a field has the wrong type or is missing
    SF_REJ_BOUNDS,          //  a string, text or array exceeds its bound
    SF_REJ_FORBIDDEN,       //  the sender may not write this record
    SF_REJ_STATE,           //  message out of protocol order
    SF_REJ_COUNT
} sf_reject_t;
const char *sf_reject_name (int reason);

//  A decoded envelope. The body points into msg's zone: valid until
//  sf_msg_reset or sf_msg_destroy. One sf_msg_t is reused per socket, so
//  decoding a frame allocates nothing after warm-up.
typedef struct {
    msgpack_unpacked unpacked;
    char type [32];
    const msgpack_object *body;         //  a map
    sf_reject_t reason;
    char error [SF_ERR_MAX];
    void *owned;                        //  copy of the frame (sf_msg_parse_copy)
} sf_msg_t;

void sf_msg_init (sf_msg_t *self);
void sf_msg_release (sf_msg_t *self);
//  Parses one frame. Returns 0, or -1 with self->reason and self->error set.
//  Strings in the result point into data: keep data alive while using them.
int sf_msg_parse (sf_msg_t *self, const void *data, size_t size);
//  0 when data holds exactly one well-formed msgpack value whose containers claim no more elements than bytes remain: what
//  every decoder of untrusted msgpack checks before msgpack-c builds a tree
int sf_msgpack_precheck (const void *data, size_t size);
//  The type of a frame's envelope [version, type, body], read from its first
//  bytes without parsing the rest (to sort messages before their cost is
//  paid); 0, or -1 when the frame does not start like an envelope (it is
//  then for sf_msg_parse to say why)
int sf_msg_peek_type (const void *data, size_t size, char *type, size_t cap);
//  The same, on a private copy of data (for replies that outlive their frame)
int sf_msg_parse_copy (sf_msg_t *self, const void *data, size_t size);

//  Field access on a body map. Each returns 0 when the key is present with the
//  right type and within bounds, 1 when absent (out untouched), -1 when
//  present but wrong (err filled).
const msgpack_object *sf_map_get (const msgpack_object *map, const char *key);
int sf_map_u64 (const msgpack_object *map, const char *key, uint64_t *out, char *err);
int sf_map_i64 (const msgpack_object *map, const char *key, int64_t *out, char *err);
int sf_map_u32 (const msgpack_object *map, const char *key, uint32_t *out, char *err);
int sf_map_bool (const msgpack_object *map, const char *key, bool *out, char *err);
int sf_map_double (const msgpack_object *map, const char *key, double *out, char *err);
//  Copies into a fixed buffer of capacity cap (+1 for NUL)
int sf_map_str (const msgpack_object *map, const char *key, char *out, size_t cap, char *err);
//  Replaces an owned heap text, bounded by max bytes
int sf_map_text (const msgpack_object *map, const char *key, char **out, size_t max, char *err);
//  Copies a msgpack string object into a fixed buffer
int sf_obj_str (const msgpack_object *o, char *out, size_t cap);

//  After a failed record decode on this thread: SF_REJ_FIELD or SF_REJ_BOUNDS
int sf_codec_reason (void);

//  Records. Flags choose which fields are written.
#define SF_ENC_FULL     0x01    //  every stored field
#define SF_ENC_ROW      0x02    //  the listing's fields only
#define SF_ENC_DERIVED  0x04    //  add transfer, migrated_to (query replies)
void sf_stream_pack (msgpack_packer *pk, const sf_stream_t *s, int flags);
//  Decodes into an initialised record (clears it first). Returns 0 or -1.
int sf_stream_unpack (const msgpack_object *o, sf_stream_t *s, char *err);

//  Field-level deltas (docs/protocol.md, "patch"). A line set has bit i for
//  line i of the stream field table; sf_stream_line ("clients"),
//  sf_stream_line ("dvr.ranges") give one line's bit (0: no such line).
uint64_t sf_stream_line (const char *path);
//  Decodes patch o (a map: `name` and the changed keys, a nested group's
//  changed keys inside that group's map) onto s: the lines present replace
//  s's, the others stay. s holds the record the patch applies to, or is
//  freshly initialised (then only the patch is checked). *lines gets the
//  lines present, `name` excepted. 0, or -1 with err set (s is then partly
//  patched: the caller discards it).
int sf_stream_patch (const msgpack_object *o, sf_stream_t *s, uint64_t *lines, char *err);
//  Writes stored (a record in the full form, as the store keeps it) to pk
//  with lines re-encoded from s and every other byte copied as it is: no
//  decoding of the unchanged fields. -1 when stored cannot be walked or
//  lacks one of the lines (then pack the whole record instead).
int sf_stream_splice (msgpack_packer *pk, const void *stored, size_t size, const sf_stream_t *s,
                      uint64_t lines);
//  Writes the patch that turns record old into record new (both in the full
//  form, as sf_stream_pack writes them): `name` and every changed key, a
//  nested group's changed keys in that group's map. Returns how many fields
//  changed (0: nothing written), or -1 when the two are not the same
//  placement in the same shape (send new whole).
int sf_stream_diff (msgpack_packer *pk, const void *old_bytes, size_t osize, const void *new_bytes,
                    size_t nsize);
void sf_node_pack (msgpack_packer *pk, const sf_node_t *n, int flags);
int sf_node_unpack (const msgpack_object *o, sf_node_t *n, char *err);
//  Node usage alone (heartbeat body)
void sf_usage_pack (msgpack_packer *pk, const sf_node_t *n);
int sf_usage_unpack (const msgpack_object *o, sf_node_t *n, char *err);

//  Message building: writes the envelope and opens a body map of nfields.
void sf_msg_begin (msgpack_packer *pk, const char *type, uint32_t nfields);
void sf_pack_str (msgpack_packer *pk, const char *s);
void sf_pack_kstr (msgpack_packer *pk, const char *key, const char *value);
void sf_pack_ku64 (msgpack_packer *pk, const char *key, uint64_t value);
void sf_pack_ki64 (msgpack_packer *pk, const char *key, int64_t value);
void sf_pack_kbool (msgpack_packer *pk, const char *key, bool value);

//  Common small messages, written into sbuf (cleared first)
void sf_msg_error (msgpack_sbuffer *sbuf, const char *code, const char *message);
void sf_msg_ack (msgpack_sbuffer *sbuf, uint64_t gen, uint64_t seq);
void sf_msg_resync (msgpack_sbuffer *sbuf, const char *reason);

#endif
