// The base of every kernel object: a type, an id from a counter, a reference count.
#pragma once

#include <anvil/types.h>
#include <stdint.h>

namespace kernel {

// One kernel object. Caps and internal references hold counted references; the
// object is destroyed when the last one goes.
class KObject {
public:
    KObject(const KObject&) = delete;
    KObject& operator=(const KObject&) = delete;

    uint32_t type() const { return type_; }   // ANVIL_OBJ_*
    uint64_t id() const { return id_; }       // unique, from a counter, never reused
    uint32_t refs() const { return refs_; }

    void retain() { ++refs_; }
    // Drops a reference; destroys the object when it was the last. Destruction
    // is iterative: objects freed by a destroy() are queued, not recursed into,
    // so a long chain of objects cannot overflow the kernel stack.
    void release() {
        if (--refs_ == 0)
            reap(this);
    }

    // A cap with `rights` now names this object (cap_insert) / no longer does
    // (cap_delete), called before its reference goes. Endpoints count the caps
    // that can receive on them; other objects do not care.
    virtual void cap_added(uint32_t rights) { (void)rights; }
    virtual void cap_removed(uint32_t rights) { (void)rights; }

    // Every live object, oldest first (the invariant checker walks them).
    static KObject* first_live();
    KObject* next_live() const { return live_next_; }
    // Scratch space for the invariant checker (kernel/check): references it found.
    uint32_t check_refs = 0;

protected:
    explicit KObject(uint32_t type);
    ~KObject();
    // Frees the object's resources and memory (called once, with no references left).
    virtual void destroy() = 0;

private:
    static void reap(KObject* object);

    KObject* reap_next_ = nullptr;  // on the queue of objects waiting for destroy()
    KObject* live_prev_ = nullptr;  // the list of live objects
    KObject* live_next_ = nullptr;
    uint64_t id_;
    uint32_t type_;
    uint32_t refs_ = 0;
};

// Name of an ANVIL_OBJ_* type ("endpoint").
const char* object_type_name(uint32_t type);

// Objects created so far (the next id minus one).
uint64_t objects_created();

}  // namespace kernel
