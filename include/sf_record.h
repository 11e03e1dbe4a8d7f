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

typedef struct {
    char *records_path;
    int64_t depth_s;                //  retention
    int32_t chunk_s;
    uint64_t disk_free_bytes;
    uint64_t memory_bytes;
    int64_t current_from;           //  start of the running recording, 0 if none
    sf_range_t *ranges;             //  sorted, merged (gap <= 1 s)
    uint32_t nranges;
} sf_dvr_t;

typedef struct {
    char vcodec [SF_SHORT_MAX + 1];
    uint32_t width;
    uint32_t height;
    double fps;
    char acodec [SF_SHORT_MAX + 1];
} sf_media_t;

typedef struct {
    char name [SF_NAME_MAX + 1];
    char uid [SF_NAME_MAX + 1];     //  stable stream id; defaults to the name
    char node [SF_NODE_MAX + 1];
    uint8_t type;                   //  sf_type_t
    uint8_t status;                 //  sf_status_t
    uint8_t functions;              //  SF_FN_*
    bool stale;                     //  the source failed; last good state kept
    uint32_t clients;
    uint32_t bitrate_kbps;
    int64_t started_at;             //  unix seconds, 0 if not running
    uint32_t reconnect_attempts;    //  since the last successful connect
    uint32_t reconnect_total;
    char *source_url;
    char *source_sdp;
    int32_t ping_ms;                //  -1 if unknown
    char *config;
    char *config_path;
    char playback_uuid [SF_SHORT_MAX + 1];
    char transferred_from [SF_NODE_MAX + 1];    //  declared by the new placement
    char rtsp_template [SF_ADDR_MAX + 1];       //  per-stream link override
    char hls_template [SF_ADDR_MAX + 1];
    sf_dvr_t dvr;
    sf_media_t media;
    sf_version_t version;
    //  The origin's wall clock (unix ms) at this record's last change, stamped
    //  by the agent; migration events take their times from it (0: unknown)
    int64_t changed_at_ms;
    //  Derived by the controller at query time, never stored or sent by agents
    bool transfer;
    char migrated_to [SF_NODE_MAX + 1];
} sf_stream_t;

typedef struct {
    char mount [SF_ADDR_MAX + 1];
    uint64_t free_bytes;
    uint64_t total_bytes;
} sf_disk_t;

typedef struct {
    char id [SF_NODE_MAX + 1];
    char addr_internal [SF_ADDR_MAX + 1];
    char addr_external [SF_ADDR_MAX + 1];
    char group [SF_SHORT_MAX + 1];          //  public | private | all
    uint32_t max_primary_streams;           //  0 = no limit
    uint32_t max_in_kbps;                   //  0 = no limit
    char software_version [SF_SHORT_MAX + 1];
    int64_t started_at;
    //  Link templates: {host} {name} {uid} {from} {to} {duration}
    char rtsp_template [SF_ADDR_MAX + 1];
    char hls_template [SF_ADDR_MAX + 1];
    char rtsp_dvr_template [SF_ADDR_MAX + 1];
    char hls_dvr_template [SF_ADDR_MAX + 1];
    //  Usage, refreshed by heartbeats
    double cpu_pct;
    uint64_t mem_used_bytes;
    uint64_t mem_total_bytes;
    uint32_t in_kbps;
    uint32_t out_kbps;
    sf_disk_t disks [SF_DISKS_MAX];
    uint32_t ndisks;
    uint64_t heartbeat;                     //  counter, rises every heartbeat
    bool stale;                             //  the agent's source is down: placements are its last good state
    sf_version_t version;
    //  Derived by the controller at query time
    uint8_t liveness;                       //  sf_liveness_t
    int64_t heartbeat_age_ms;               //  -1 if never seen
    uint32_t nstreams;
    uint32_t nprimary;
    uint32_t nactive;
} sf_node_t;

//  Stream records
void sf_stream_init (sf_stream_t *self);
void sf_stream_clear (sf_stream_t *self);           //  frees owned memory, re-inits
int sf_stream_copy (sf_stream_t *dest, const sf_stream_t *src);
//  Replaces an owned text field; NULL or "" clears it. Returns 0 or -1 (no memory).
int sf_text_set (char **field, const char *value);
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
