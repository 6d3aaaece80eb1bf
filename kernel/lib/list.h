// An intrusive doubly linked list: nodes live inside the objects, nothing allocates.
#pragma once

#include <stddef.h>

namespace kernel {

// A link embedded in an object; an object is on at most one list per link.
struct ListNode {
    ListNode* prev = nullptr;
    ListNode* next = nullptr;
    bool linked() const { return next != nullptr; }
};

// A circular list of T reached through the member `Link`.
template <typename T, ListNode T::*Link>
class List {
public:
    constexpr List() = default;
    List(const List&) = delete;
    List& operator=(const List&) = delete;

    bool empty() const { return head_.next == nullptr || head_.next == &head_; }
    size_t size() const { return size_; }

    void push_back(T* item) { insert_before(&head(), &(item->*Link)); }
    void push_front(T* item) { insert_before(head().next, &(item->*Link)); }

    T* front() { return empty() ? nullptr : from_node(head_.next); }
    T* back() { return empty() ? nullptr : from_node(head_.prev); }

    T* pop_front() {
        T* item = front();
        if (item)
            remove(item);
        return item;
    }

    // Removes `item`, which must be on this list.
    void remove(T* item) {
        ListNode* n = &(item->*Link);
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = nullptr;
        --size_;
    }

    // The item after `item`, or null at the end.
    T* next(T* item) {
        ListNode* n = (item->*Link).next;
        return n == &head_ ? nullptr : from_node(n);
    }

    // Inserts `item` before `pos` (or at the end if pos is null).
    void insert_before_item(T* pos, T* item) {
        insert_before(pos ? &(pos->*Link) : &head(), &(item->*Link));
    }

private:
    ListNode& head() {
        if (head_.next == nullptr)
            head_.next = head_.prev = &head_;
        return head_;
    }
    void insert_before(ListNode* pos, ListNode* n) {
        n->prev = pos->prev;
        n->next = pos;
        pos->prev->next = n;
        pos->prev = n;
        ++size_;
    }
    static T* from_node(ListNode* n) {
        // Offset of the link inside T, computed without a live object.
        const size_t off = reinterpret_cast<size_t>(&(static_cast<T*>(nullptr)->*Link));
        return reinterpret_cast<T*>(reinterpret_cast<char*>(n) - off);
    }

    ListNode head_;
    size_t size_ = 0;
};

}  // namespace kernel
