/* malloc/free/calloc/realloc: a first-fit allocator over an address-ordered free
 * list. Each block starts with a 16-byte header {size, tag}; size counts the
 * header, is a multiple of 16, and payloads are 16-byte aligned. free() inserts
 * the block in address order and merges it with a free neighbour on either side.
 * Memory comes from a page source (anvil_vma_alloc by default) in chunks of at
 * least HEAP_CHUNK bytes and is never returned. Not thread-safe (bootstrap libc). */
#include "libc_impl.h"
#ifndef ANVIL_LIBC_HOST
#include <anvil/anvil.h>
#endif

#define ALIGN 16u
#define HDR 16u
#define MIN_BLOCK 32u            /* header + next pointer, rounded */
#define PAGE 4096u
#define HEAP_CHUNK (64u * 1024u)
#define TAG_USED 0xA11C0CA7ED5AFE01ull
#define TAG_FREE 0xF7EEB10C4F7EEB10ull

struct block {
    size_t size;
    uint64_t tag;
    struct block *next; /* free blocks only: the next free block by address */
};

static struct block *free_list;
static size_t bytes_from_source;

#ifdef ANVIL_LIBC_HOST
static void *default_source(size_t len)
{
    (void)len;
    return NULL;
}
#else
static void *default_source(size_t len)
{
    uint64_t va = 0;
    if (anvil_vma_alloc(ANVIL_CAP_SELF_VSPACE, len, ANVIL_PERM_R | ANVIL_PERM_W, &va) != ANVIL_OK)
        return NULL;
    return (void *)(uintptr_t)va;
}
#endif

static anvil_heap_source_t source = default_source;

void anvil_heap_set_source(anvil_heap_source_t s)
{
    source = s ? s : default_source;
}

void anvil_heap_get_stats(struct anvil_heap_stats *out)
{
    out->bytes_from_source = bytes_from_source;
    out->bytes_free = 0;
    out->free_blocks = 0;
    for (struct block *b = free_list; b; b = b->next) {
        out->bytes_free += b->size;
        out->free_blocks++;
    }
}

static void heap_corrupt(const char *what)
{
    LIBC(printf)("malloc: %s\n", what);
    LIBC(abort)();
}

/* Inserts b (b->size set) into the free list, merging with its neighbours. */
static void insert_free(struct block *b)
{
    struct block *prev = NULL, *cur = free_list;
    while (cur && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    if ((prev && (char *)prev + prev->size > (char *)b) || (cur && (char *)b + b->size > (char *)cur))
        heap_corrupt("free of a block overlapping a free block");
    b->tag = TAG_FREE;
    b->next = cur;
    if (cur && (char *)b + b->size == (char *)cur) {
        b->size += cur->size;
        b->next = cur->next;
        cur->tag = 0;
    }
    if (prev && (char *)prev + prev->size == (char *)b) {
        prev->size += b->size;
        prev->next = b->next;
        b->tag = 0;
    } else if (prev) {
        prev->next = b;
    } else {
        free_list = b;
    }
}

static int grow(size_t need)
{
    size_t len = need < HEAP_CHUNK ? HEAP_CHUNK : (need + PAGE - 1) & ~(size_t)(PAGE - 1);
    struct block *b = source(len);
    if (!b || ((uintptr_t)b & (ALIGN - 1)))
        return 0;
    bytes_from_source += len;
    b->size = len;
    insert_free(b);
    return 1;
}

/* The block size for a request of n bytes, or 0 if it is too large. */
static size_t block_size(size_t n)
{
    if (n > ((size_t)-1 >> 1))
        return 0;
    size_t s = (n + HDR + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    return s < MIN_BLOCK ? MIN_BLOCK : s;
}

/* Cuts `b` (in use) down to `size`, freeing the tail if it can hold a block. */
static void trim(struct block *b, size_t size)
{
    if (b->size - size >= MIN_BLOCK) {
        struct block *tail = (struct block *)((char *)b + size);
        tail->size = b->size - size;
        b->size = size;
        insert_free(tail);
    }
}

void *LIBC(malloc)(size_t n)
{
    size_t size = block_size(n);
    if (!size) {
        LIBC(errno) = LIBC_ENOMEM;
        return NULL;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        struct block *prev = NULL;
        for (struct block *b = free_list; b; prev = b, b = b->next) {
            if (b->size < size)
                continue;
            if (prev)
                prev->next = b->next;
            else
                free_list = b->next;
            b->tag = TAG_USED;
            trim(b, size);
            return (char *)b + HDR;
        }
        if (!grow(size))
            break;
    }
    LIBC(errno) = LIBC_ENOMEM;
    return NULL;
}

static struct block *header_of(void *p)
{
    struct block *b = (struct block *)((char *)p - HDR);
    if (((uintptr_t)p & (ALIGN - 1)) || b->tag != TAG_USED)
        heap_corrupt("free/realloc of a pointer not from malloc (or freed twice)");
    return b;
}

void LIBC(free)(void *p)
{
    if (!p)
        return;
    insert_free(header_of(p));
}

void *LIBC(calloc)(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        LIBC(errno) = LIBC_ENOMEM;
        return NULL;
    }
    void *p = LIBC(malloc)(total);
    if (p)
        LIBC(memset)(p, 0, total);
    return p;
}

/* realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL. On
 * failure p is left untouched and NULL is returned. */
void *LIBC(realloc)(void *p, size_t n)
{
    if (!p)
        return LIBC(malloc)(n);
    if (n == 0) {
        LIBC(free)(p);
        return NULL;
    }
    struct block *b = header_of(p);
    size_t size = block_size(n);
    if (!size) {
        LIBC(errno) = LIBC_ENOMEM;
        return NULL;
    }
    if (size <= b->size) {
        trim(b, size);
        return p;
    }
    /* Grow in place into a free block right after this one. */
    struct block *prev = NULL;
    char *end = (char *)b + b->size;
    for (struct block *f = free_list; f && (char *)f <= end; prev = f, f = f->next) {
        if ((char *)f != end)
            continue;
        if (b->size + f->size < size)
            break;
        if (prev)
            prev->next = f->next;
        else
            free_list = f->next;
        b->size += f->size;
        f->tag = 0;
        trim(b, size);
        return p;
    }
    void *q = LIBC(malloc)(n);
    if (!q)
        return NULL;
    LIBC(memcpy)(q, p, b->size - HDR);
    LIBC(free)(p);
    return q;
}
