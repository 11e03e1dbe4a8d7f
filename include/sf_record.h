/*  sf_record.h — the fleet's record model (DESIGN §2).

    Two record kinds travel and are stored: a stream placement (one per node and
    stream name) and a node. Both are owned by one origin (the node's agent) and
    carry the origin's (generation, seq) of their last change. Records are plain
    structs; long texts and the DVR range list live on the heap and are owned by
    the record (sf_stream_clear frees them). Their msgpack encoding is in
    sf_codec.h and specified in docs/protocol.md.
*/
#ifndef SF_RECORD_H
#define SF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sf_fields.h"

//  Bounds on everything a peer sends (DESIGN §5). Decoders reject larger input.
#define SF_NAME_MAX        128      //  stream name, uid (bytes)
#define SF_NODE_MAX        64       //  node id (bytes)
#define SF_SHORT_MAX       64       //  codecs, playback uuid, group, versions
#define SF_ADDR_MAX        256      //  addresses, paths, link templates
#define SF_URL_MAX         2048     //  source url
#define SF_TEXT_MAX        65536    //  config text, SDP
#define SF_RANGES_MAX      8192     //  DVR ranges per placement
#define SF_DISKS_MAX       16       //  disks per node
#define SF_STREAMS_PER_NODE_MAX 200000

typedef enum {
    SF_TYPE_PRIMARY = 0,
    SF_TYPE_SECONDARY = 1,
    SF_TYPE_MIGRATED = 2,           //  derived by the controller, never sent by agents
    SF_TYPE_COUNT
} sf_type_t;

typedef enum {
    SF_STATUS_ACTIVE = 0,
    SF_STATUS_SUSPEND = 1,
    SF_STATUS_STARTING = 2,
    SF_STATUS_ERROR = 3,
    SF_STATUS_OFFLINE = 4,          //  derived on read: the owning node is down
    SF_STATUS_COUNT
} sf_status_t;

//  Stream functions, a bit set
#define SF_FN_DVR    0x01
#define SF_FN_PHOTO  0x02
#define SF_FN_AUDIO  0x04

typedef enum {
    SF_LIVE_ALIVE = 0,
    SF_LIVE_SUSPECT = 1,
    SF_LIVE_DOWN = 2
} sf_liveness_t;

//  An origin's stamp on a change. Generation rises at every agent start,
//  seq with every change within a generation.
typedef struct {
    uint64_t gen;
    uint64_t seq;
} sf_version_t;

typedef struct {
    int64_t from;                   //  unix seconds
    int64_t to;
} sf_range_t;

//  The record structs are generated from the field table (sf_fields.h): one
//  member per line, in table order, so adding a field there adds it here.
typedef struct {
    SF_STREAM_FIELDS (SF_DECL_IN_DVR)   //  records_path … ranges, nranges (sorted, merged)
} sf_dvr_t;

typedef struct {
    SF_STREAM_FIELDS (SF_DECL_IN_MEDIA)
} sf_media_t;

//  A stream placement. Its long texts and DVR ranges are owned (TEXT and
//  RANGES lines); transfer and migrated_to are derived by the controller at
//  query time, never stored or sent by agents.
typedef struct {
    SF_STREAM_FIELDS (SF_DECL_IN_TOP)
    sf_dvr_t dvr;
    sf_media_t media;
} sf_stream_t;

typedef struct {
    char mount [SF_ADDR_MAX + 1];
    uint64_t free_bytes;
    uint64_t total_bytes;
} sf_disk_t;

//  A node record: usage is refreshed by heartbeats; liveness,
//  heartbeat_age_ms and the counts are derived by the controller at query time
typedef struct {
    SF_NODE_FIELDS (SF_DECL_IN_TOP)
} sf_node_t;

//  Stream records
void sf_stream_init (sf_stream_t *self);
void sf_stream_clear (sf_stream_t *self);           //  frees owned memory, re-inits
//  Deep copy (out of memory aborts, sf_alloc.h)
void sf_stream_copy (sf_stream_t *dest, const sf_stream_t *src);
//  Replaces an owned text field; NULL or "" clears it (out of memory
//  aborts, sf_alloc.h)
void sf_text_set (char **field, const char *value);
//  Copies a string into a fixed buffer of size cap+1; returns -1 if it did not fit
int sf_str_set (char *dest, size_t cap, const char *value);
#define SF_STRSET(field, value) sf_str_set ((field), sizeof (field) - 1, (value))
//  Appends a range, merging with the previous one when the gap is <= 1 s;
//  ranges must be appended in order. Returns 0 or -1.
int sf_dvr_add_range (sf_dvr_t *dvr, int64_t from, int64_t to);
//  Appends a range as it is (no merge); sf_dvr_normalize merges later
int sf_dvr_push_range (sf_dvr_t *dvr, int64_t from, int64_t to);
//  Sorts and merges a range list in place
void sf_dvr_normalize (sf_dvr_t *dvr);

void sf_node_init (sf_node_t *self);

//  Names for enums, and parsing back (-1 if unknown)
const char *sf_type_name (int type);
const char *sf_status_name (int status);
const char *sf_liveness_name (int liveness);
int sf_type_parse (const char *name);
int sf_status_parse (const char *name);
//  "dvr,photo,audio" style, written into buf
const char *sf_functions_str (uint8_t functions, char *buf, size_t size);

#endif
