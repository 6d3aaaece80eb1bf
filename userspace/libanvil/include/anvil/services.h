/* <anvil/services.h>: the protocols of the name server and the IO server, and
 * their client calls.
 *
 * Both servers take ipc_call requests and answer with a reply whose label is an
 * anvil_status_t. Clients are told apart by the badge of the endpoint cap init
 * gave them (one badge per service, the same across restarts).
 *
 * Name server (a client's slot ANVIL_CAP_NAMESERVER):
 *   ANVIL_NS_REGISTER   data: the name; caps[0]: the cap to publish (needs GRANT).
 *                       SLOT_OCCUPIED if another client holds the name; the same
 *                       client registering again replaces its cap (a restarted
 *                       service re-registers).
 *   ANVIL_NS_LOOKUP     data: the name; reply caps[0]: a copy of the published cap.
 *                       NOT_FOUND if nobody registered it.
 *   ANVIL_NS_UNREGISTER data: the name. NOT_FOUND if absent, ACCESS_DENIED if
 *                       another client registered it.
 *   Names are 1..ANVIL_NS_NAME_MAX bytes, no NUL inside (INVALID_ARG otherwise).
 *   NO_MEMORY when ANVIL_NS_MAX_NAMES names are registered (or the server's
 *   CNode is full). A copy handed out by a lookup is the client's: it outlives
 *   an unregister. A name whose published cap was revoked counts as absent.
 *   Registrations outlive the server: it keeps its table and the published caps
 *   in a VMO and a CNode that init holds and lends to every instance, so a
 *   restarted name server answers for the names registered before.
 *
 * IO server (a client's slot ANVIL_CAP_IOSERVER), owner of COM1. A request's
 * label is its operation (bits 0..31) and its number (bits 32..63, 0: none).
 * Numbers are per client (badge), nonzero and each new request's differs
 * from the one before; the client calls below number every request and send
 * it again, with the same number, if the server died while serving it
 * (PEER_CLOSED): init restarts the server on the same endpoint. The server
 * keeps, per client badge 1..16 (init's badges for its services), the last
 * numbered request and its reply in a VMO init holds, so a request sent again
 * is done once: one that was served gets the kept reply, a write the server
 * died in goes on after the bytes already output. Unnumbered requests, and
 * requests through other badges (0: the published "io" cap), are done again
 * when sent again.
 *   ANVIL_IO_WRITE      data: bytes to write (up to ANVIL_MSG_MAX_BYTES), sent
 *                       unchanged (no "\n" -> "\r\n"). May also arrive as a plain
 *                       ipc_send, which gets no reply (the stdio sink's
 *                       non-blocking retry).
 *   ANVIL_IO_READ_LINE  data: empty, or a uint32_t limit 1..ANVIL_IO_LINE_MAX
 *                       (0 or absent: ANVIL_IO_LINE_MAX). Reply data: one line of
 *                       input without its end (up to the limit; a longer line
 *                       comes in pieces of `limit` bytes). '\n', '\r' and "\r\n"
 *                       each end a line. Input after the line stays buffered for
 *                       the next read. Blocks until a whole line is there; the
 *                       server serves one request at a time, so writers wait
 *                       meanwhile. NOT_SUPPORTED if the server has no COM1.
 *                       Input the server has received outlives it (kept in the
 *                       same VMO). A numbered read hands its line out once: sent
 *                       again, it gets the same line.
 *   Other labels get NOT_SUPPORTED, on both servers.
 */
#ifndef ANVIL_SERVICES_H
#define ANVIL_SERVICES_H

#include <stddef.h>
#include <stdint.h>
#include <anvil/status.h>
#include <anvil/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Slots init fills beyond the well-known ones (see docs/userspace.md). */
#define ANVIL_CAP_IOSERVER_PUBLISH 10u /* IO server: WRITE|GRANT cap it publishes as "io" */
#define ANVIL_CAP_PEER_TCB         11u /* a service granted another's thread ("tcb:NAME") */
#define ANVIL_CAP_NS_STORE         12u /* name server: CNode holding the published caps (READ|WRITE) */
#define ANVIL_CAP_NS_TABLE         13u /* name server: VMO holding its table (READ|WRITE) */
#define ANVIL_CAP_PEER_TCB2        14u /* a service's second "tcb:NAME" */
#define ANVIL_CAP_IO_STATE         15u /* IO server: VMO holding its input and clients' requests (READ|WRITE) */

/* The name server's state that init creates once and lends to each instance. */
#define ANVIL_NS_STORE_SLOTS 64u   /* two per name: a replacement lands before the old cap goes */
#define ANVIL_NS_TABLE_BYTES 4096u
/* The IO server's state (its input and its clients' last requests), which init also keeps. */
#define ANVIL_IO_STATE_BYTES 8192u

#define ANVIL_NS_REGISTER   1u
#define ANVIL_NS_LOOKUP     2u
#define ANVIL_NS_UNREGISTER 3u
#define ANVIL_NS_NAME_MAX   64u
#define ANVIL_NS_MAX_NAMES  32u

#define ANVIL_IO_WRITE     1u
#define ANVIL_IO_READ_LINE 2u
#define ANVIL_IO_LINE_MAX  256u
#define ANVIL_IO_OP_MASK   0xffffffffull /* a request label's operation */
#define ANVIL_IO_SEQ_SHIFT 32u           /* ... and where its number starts */
#define ANVIL_IO_CALL_TRIES 3u           /* sends of one request, the first included */

/* Name server calls through the caller's ANVIL_CAP_NAMESERVER slot. A register
 * or lookup the server died while serving (PEER_CLOSED) is made once more, to
 * the instance init starts in its place; so is an unregister, and NOT_FOUND
 * from its second send counts as OK (the dead server may have done it). */
anvil_status_t anvil_ns_register(const char *name, anvil_cap_t cap);
/* On success the published cap lands in the lowest free slot, *out. */
anvil_status_t anvil_ns_lookup(const char *name, anvil_cap_t *out);
anvil_status_t anvil_ns_unregister(const char *name);

/* One numbered IO server request through `ep`: `req`'s label is the
 * operation (its number is set here); sent up to ANVIL_IO_CALL_TRIES times
 * while the call returns PEER_CLOSED. Returns the call's status; the reply's
 * label is then the server's. A client's requests are numbered from a start
 * taken from its CNode's object id (never reused), so a restarted client does
 * not repeat its predecessor's numbers. */
anvil_status_t anvil_io_call(anvil_cap_t ep, anvil_msg_t *req, anvil_msg_t *reply);

/* IO server calls through the caller's ANVIL_CAP_IOSERVER slot (with
 * anvil_io_call). */
anvil_status_t anvil_io_write(const char *s, size_t len);
/* Reads one line into buf (NUL-terminated, without '\n'); *len gets its length. */
anvil_status_t anvil_io_read_line(char *buf, size_t size, size_t *len);

/* Points libc's stdout at the IO server if slot ANVIL_CAP_IOSERVER holds an
 * endpoint (true), else leaves it on anvil_debug_write (false). Output that the
 * IO server cannot take (it died each time anvil_io_call sent it) is retried
 * once without blocking and then written with anvil_debug_write, so nothing
 * is lost. A write
 * made while no IO server receives at all waits for one: whoever restarts the
 * IO server must never print through it (init writes to the console). */
int anvil_stdio_use_ioserver(void);

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_SERVICES_H */
