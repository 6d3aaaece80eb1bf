/* Name server tests: the protocol of <anvil/services.h> as a client sees it,
 * through the suite's slot ANVIL_CAP_NAMESERVER (a badged WRITE|GRANT cap that
 * init gives it). Each test skips if that slot holds no endpoint, as when the
 * suite runs as init without services.
 *
 * Table entries (name, function), in this order:
 *   {"ns.register_lookup",    test_ns_register_lookup},    register a fresh endpoint; the looked-up copy is the same endpoint and carries a message
 *   {"ns.lookup_missing",     test_ns_lookup_missing},     a name nobody registered is NOT_FOUND and gives no cap
 *   {"ns.bad_names",          test_ns_bad_names},          empty, too long and NUL-containing names are INVALID_ARG (client and server)
 *   {"ns.max_length_name",    test_ns_max_length_name},    a name of ANVIL_NS_NAME_MAX bytes works and differs from its prefix
 *   {"ns.unregister",         test_ns_unregister},         unregister removes the name (then NOT_FOUND); copies handed out stay valid
 *   {"ns.reregister_replaces",test_ns_reregister_replaces},the same client registering a name again replaces the cap
 *   {"ns.register_cap_rules", test_ns_register_cap_rules}, no GRANT: ACCESS_DENIED; empty slot: INVALID_CAP; no cap: INVALID_ARG
 *   {"ns.unknown_label",      test_ns_unknown_label},      an unknown request label is NOT_SUPPORTED, with or without a cap
 *   {"ns.table_full",         test_ns_table_full},         registering past ANVIL_NS_MAX_NAMES is NO_MEMORY; freed entries are reused
 *   {"ns.no_slot_leak",       test_ns_no_slot_leak},       more register/replace/reject/lookup/unregister rounds than the server has slots
 *
 * Not covered: "another client holds the name" (SLOT_OCCUPIED / ACCESS_DENIED)
 * needs a second badge, and the suite's only name server cap is badged (a
 * badged cap cannot be minted again). */
#include "tests.h"

#include <anvil/services.h>
#include <string.h>

#define SELF ANVIL_CAP_SELF_CNODE
/* What a service publishes: send and pass on, nothing else. */
#define PUBLISH_RIGHTS (ANVIL_RIGHT_WRITE | ANVIL_RIGHT_GRANT)

static int have_ns(void)
{
    anvil_cap_info_t info;
    return anvil_cap_info(SELF, ANVIL_CAP_NAMESERVER, &info) == ANVIL_OK && info.type == ANVIL_OBJ_ENDPOINT &&
           (info.rights & ANVIL_RIGHT_WRITE);
}

#define NEED_NS()                                                \
    do {                                                         \
        if (!have_ns())                                          \
            SKIP("no name server endpoint in slot 4");           \
    } while (0)

/* A new endpoint (all rights) and a WRITE|GRANT copy of it to publish. */
static anvil_status_t new_service(anvil_cap_t *ep, anvil_cap_t *pub)
{
    anvil_status_t s = anvil_endpoint_create(ep);
    if (s != ANVIL_OK)
        return s;
    s = anvil_cap_copy_any(SELF, *ep, SELF, PUBLISH_RIGHTS, 0, pub);
    if (s != ANVIL_OK)
        anvil_cap_delete(SELF, *ep);
    return s;
}

static anvil_status_t delete_caps(anvil_cap_t a, anvil_cap_t b)
{
    anvil_status_t s = anvil_cap_delete(SELF, a);
    const anvil_status_t t = anvil_cap_delete(SELF, b);
    return s != ANVIL_OK ? s : t;
}

static uint64_t object_of(anvil_cap_t slot)
{
    anvil_cap_info_t info;
    return anvil_cap_info(SELF, slot, &info) == ANVIL_OK ? info.object_id : 0;
}

/* A helper thread that receives one message on `ep`. */
#define HELPER_STACK_SIZE (16u * 1024u)
static struct {
    anvil_cap_t ep;
    volatile uint32_t done;
    volatile int32_t status;
    volatile uint64_t label;
} g_helper;
static anvil_msg_t g_helper_msg;
static uint8_t g_helper_stack[HELPER_STACK_SIZE] __attribute__((aligned(16)));

static void helper_recv(uint64_t unused)
{
    (void)unused;
    uint64_t badge = 0;
    g_helper_msg.ncaps = 0;
    g_helper.status = anvil_ipc_recv(g_helper.ep, &g_helper_msg, &badge);
    g_helper.label = g_helper_msg.label;
    g_helper.done = 1;
    anvil_thread_exit(0);
}

DEFINE_TEST("ns.register_lookup", test_ns_register_lookup)
{
    static const char kName[] = "test.ns.register_lookup";
    NEED_NS();
    anvil_cap_t ep, pub, found = 0, tcb;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_register(kName, pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_OK);
    CHECK(found != ANVIL_CAP_NULL && found != ep && found != pub);

    /* The copy names the same endpoint, with the rights that were published. */
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, found, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_ENDPOINT);
    CHECK(info.object_id == object_of(ep));
    CHECK(info.rights == PUBLISH_RIGHTS);
    CHECK(info.badge == 0);

    /* And it works: a message sent through it arrives on the original. */
    g_helper.ep = ep;
    g_helper.done = 0;
    g_helper.status = -100;
    CHECK_STATUS(start_test_thread((uint64_t)(uintptr_t)helper_recv, 0, g_helper_stack + HELPER_STACK_SIZE,
                                   TEST_PRIORITY, ANVIL_CPU_ANY, 0, &tcb),
                 ANVIL_OK);
    static anvil_msg_t m;
    m.label = 0x6e73;
    m.len = 0;
    m.ncaps = 0;
    anvil_status_t s = ANVIL_ERR_WOULD_BLOCK;
    for (uint32_t i = 0; i < CHILD_WAIT_LIMIT && s == ANVIL_ERR_WOULD_BLOCK; i++) {
        s = anvil_ipc_try_send(found, &m);
        if (s == ANVIL_ERR_WOULD_BLOCK)
            anvil_thread_yield();
    }
    CHECK_STATUS(s, ANVIL_OK);
    for (uint32_t i = 0; i < CHILD_WAIT_LIMIT && !g_helper.done; i++)
        anvil_thread_yield();
    CHECK(g_helper.done);
    CHECK_STATUS(g_helper.status, ANVIL_OK);
    CHECK(g_helper.label == 0x6e73);

    CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, tcb), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, found), ANVIL_OK);
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ns.lookup_missing", test_ns_lookup_missing)
{
    NEED_NS();
    const unsigned before = caps_in_use();
    anvil_cap_t found = 12345;
    CHECK_STATUS(anvil_ns_lookup("test.ns.nobody-registered-this", &found), ANVIL_ERR_NOT_FOUND);
    CHECK(found == 12345);
    CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, ANVIL_NS_LOOKUP, "x", 1, 0), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_ns_unregister("test.ns.nobody-registered-this"), ANVIL_ERR_NOT_FOUND);
    CHECK(caps_in_use() == before);
    return 0;
}

DEFINE_TEST("ns.bad_names", test_ns_bad_names)
{
    NEED_NS();
    char long_name[ANVIL_NS_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0'; /* ANVIL_NS_NAME_MAX + 1 bytes */
    static const char kNul[] = "ab\0cd";
    anvil_cap_t ep, pub, found = 0;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);

    /* Refused by the client calls. */
    CHECK_STATUS(anvil_ns_register("", pub), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_register(long_name, pub), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_register(NULL, pub), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_lookup("", &found), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_lookup(long_name, &found), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_lookup("x", NULL), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_unregister(""), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_unregister(long_name), ANVIL_ERR_INVALID_ARG);

    /* Refused by the server when a client sends them anyway. */
    static const uint64_t kLabels[] = {ANVIL_NS_REGISTER, ANVIL_NS_LOOKUP, ANVIL_NS_UNREGISTER};
    for (unsigned i = 0; i < 3; i++) {
        const anvil_cap_t cap = kLabels[i] == ANVIL_NS_REGISTER ? pub : 0;
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, kLabels[i], "", 0, cap), ANVIL_ERR_INVALID_ARG);
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, kLabels[i], long_name, ANVIL_NS_NAME_MAX + 1, cap), ANVIL_ERR_INVALID_ARG);
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, kLabels[i], kNul, 5, cap), ANVIL_ERR_INVALID_ARG);
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, kLabels[i], kNul, 3, cap), ANVIL_ERR_INVALID_ARG); /* a trailing NUL too */
    }
    /* Nothing got registered under the parts around the NUL. */
    CHECK_STATUS(anvil_ns_lookup("ab", &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ns.max_length_name", test_ns_max_length_name)
{
    NEED_NS();
    char name[ANVIL_NS_NAME_MAX + 1];
    memset(name, 'm', ANVIL_NS_NAME_MAX);
    memcpy(name, "test.ns.max.", 12);
    name[ANVIL_NS_NAME_MAX] = '\0';
    anvil_cap_t ep, pub, found = 0;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_register(name, pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(name, &found), ANVIL_OK);
    CHECK(object_of(found) == object_of(ep));
    CHECK_STATUS(anvil_cap_delete(SELF, found), ANVIL_OK);

    /* Its prefix is another name. */
    name[ANVIL_NS_NAME_MAX - 1] = '\0';
    CHECK_STATUS(anvil_ns_lookup(name, &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_ns_unregister(name), ANVIL_ERR_NOT_FOUND);
    name[ANVIL_NS_NAME_MAX - 1] = 'm';
    CHECK_STATUS(anvil_ns_unregister(name), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(name, &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ns.unregister", test_ns_unregister)
{
    static const char kName[] = "test.ns.unregister";
    NEED_NS();
    anvil_cap_t ep, pub, found = 0, again = 0;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_register(kName, pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_OK);
    CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(kName, &again), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_ERR_NOT_FOUND);
    /* A copy handed out earlier is the client's own: unregistering leaves it. */
    anvil_cap_info_t info;
    CHECK_STATUS(anvil_cap_info(SELF, found, &info), ANVIL_OK);
    CHECK(info.type == ANVIL_OBJ_ENDPOINT && info.object_id == object_of(ep));
    /* The name is free again. */
    CHECK_STATUS(anvil_ns_register(kName, pub), ANVIL_OK);
    CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_OK);
    CHECK_STATUS(anvil_cap_delete(SELF, found), ANVIL_OK);
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ns.reregister_replaces", test_ns_reregister_replaces)
{
    static const char kName[] = "test.ns.reregister";
    NEED_NS();
    anvil_cap_t ep1, pub1, ep2, pub2, found = 0;
    CHECK_STATUS(new_service(&ep1, &pub1), ANVIL_OK);
    CHECK_STATUS(new_service(&ep2, &pub2), ANVIL_OK);
    CHECK(object_of(ep1) != object_of(ep2));
    CHECK_STATUS(anvil_ns_register(kName, pub1), ANVIL_OK);
    /* The same client (same badge) again: a restarted service taking its name back. */
    CHECK_STATUS(anvil_ns_register(kName, pub2), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_OK);
    CHECK(object_of(found) == object_of(ep2));
    CHECK_STATUS(anvil_cap_delete(SELF, found), ANVIL_OK);
    /* One name, one entry: a single unregister removes it. */
    CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_OK);
    CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(delete_caps(ep1, pub1), ANVIL_OK);
    CHECK_STATUS(delete_caps(ep2, pub2), ANVIL_OK);
    return 0;
}

/* The lowest empty slot of our CNode (0 if none). */
static anvil_cap_t empty_slot(void)
{
    for (uint32_t slot = 1; slot < SUITE_CNODE_SLOTS; slot++) {
        anvil_cap_info_t info;
        if (anvil_cap_info(SELF, slot, &info) == ANVIL_ERR_INVALID_CAP)
            return slot;
    }
    return 0;
}

DEFINE_TEST("ns.register_cap_rules", test_ns_register_cap_rules)
{
    static const char kName[] = "test.ns.cap_rules";
    NEED_NS();
    anvil_cap_t ep, nogrant, found = 0;
    CHECK_STATUS(anvil_endpoint_create(&ep), ANVIL_OK);
    CHECK_STATUS(anvil_cap_copy_any(SELF, ep, SELF, ANVIL_RIGHT_WRITE, 0, &nogrant), ANVIL_OK);
    /* The kernel refuses to move a cap without GRANT; the server never sees it. */
    CHECK_STATUS(anvil_ns_register(kName, nogrant), ANVIL_ERR_ACCESS_DENIED);
    const anvil_cap_t empty = empty_slot();
    CHECK(empty != 0);
    CHECK_STATUS(anvil_ns_register(kName, empty), ANVIL_ERR_INVALID_CAP);
    CHECK_STATUS(anvil_ns_register(kName, ANVIL_CAP_NULL), ANVIL_ERR_INVALID_CAP);
    /* A registration without a cap is the server's to refuse. */
    CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, ANVIL_NS_REGISTER, kName, sizeof kName - 1, 0), ANVIL_ERR_INVALID_ARG);
    CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(delete_caps(ep, nogrant), ANVIL_OK);
    return 0;
}

DEFINE_TEST("ns.unknown_label", test_ns_unknown_label)
{
    NEED_NS();
    anvil_cap_t ep, pub;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, 0, "test.ns.x", 9, 0), ANVIL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, 0x4e5f, "test.ns.x", 9, pub), ANVIL_ERR_NOT_SUPPORTED);
    CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, ~0ull, "", 0, 0), ANVIL_ERR_NOT_SUPPORTED);
    /* The server is still fine afterwards. */
    anvil_cap_t found;
    CHECK_STATUS(anvil_ns_lookup("test.ns.x", &found), ANVIL_ERR_NOT_FOUND);
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

static void full_name(char *buf, unsigned i)
{
    memcpy(buf, "test.ns.full.", 13);
    buf[13] = (char)('a' + i / 26);
    buf[14] = (char)('a' + i % 26);
    buf[15] = '\0';
}

DEFINE_TEST("ns.table_full", test_ns_table_full)
{
    NEED_NS();
    anvil_cap_t ep, pub;
    char name[16];
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    /* Other services hold some entries already: fill the rest. */
    unsigned n = 0;
    anvil_status_t s = ANVIL_OK;
    for (; n <= ANVIL_NS_MAX_NAMES; n++) {
        full_name(name, n);
        s = anvil_ns_register(name, pub);
        if (s != ANVIL_OK)
            break;
    }
    const unsigned registered = n;
    /* Free ours before checking, so a failure does not leave the table full. */
    anvil_status_t u = ANVIL_OK;
    for (unsigned i = 0; i < registered; i++) {
        full_name(name, i);
        const anvil_status_t t = anvil_ns_unregister(name);
        if (u == ANVIL_OK)
            u = t;
    }
    CHECK_STATUS(s, ANVIL_ERR_NO_MEMORY);
    CHECK(registered >= 1 && registered <= ANVIL_NS_MAX_NAMES);
    CHECK_STATUS(u, ANVIL_OK);
    /* The freed entries are usable again. */
    for (unsigned i = 0; i < registered; i++) {
        full_name(name, i);
        CHECK_STATUS(anvil_ns_register(name, pub), ANVIL_OK);
    }
    for (unsigned i = 0; i < registered; i++) {
        full_name(name, i);
        CHECK_STATUS(anvil_ns_unregister(name), ANVIL_OK);
    }
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}

/* Every path of the server that takes a cap, more times than its CNode has
 * slots (if init gave it the default size): a leak shows as NO_MEMORY. */
DEFINE_TEST("ns.no_slot_leak", test_ns_no_slot_leak)
{
    static const char kName[] = "test.ns.leak";
    NEED_NS();
    anvil_cap_t ep, pub, found;
    CHECK_STATUS(new_service(&ep, &pub), ANVIL_OK);
    for (uint32_t i = 0; i < ANVIL_PROCESS_CNODE_SLOTS + 16; i++) {
        CHECK_STATUS(anvil_ns_register(kName, pub), ANVIL_OK);
        CHECK_STATUS(anvil_ns_register(kName, pub), ANVIL_OK); /* replace */
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, ANVIL_NS_REGISTER, "", 0, pub), ANVIL_ERR_INVALID_ARG);
        /* A stray cap on a lookup, and a reply cap the caller does not take. */
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, ANVIL_NS_LOOKUP, kName, sizeof kName - 1, pub), ANVIL_OK);
        CHECK_STATUS(service_raw(ANVIL_CAP_NAMESERVER, 0x4e5f, kName, sizeof kName - 1, pub), ANVIL_ERR_NOT_SUPPORTED);
        CHECK_STATUS(anvil_ns_lookup(kName, &found), ANVIL_OK);
        CHECK_STATUS(anvil_cap_delete(SELF, found), ANVIL_OK);
        CHECK_STATUS(anvil_ns_unregister(kName), ANVIL_OK);
    }
    CHECK_STATUS(delete_caps(ep, pub), ANVIL_OK);
    return 0;
}
