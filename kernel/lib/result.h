// Errors are values: Status for calls with no result, Result<T> for calls with one.
#pragma once

#include <anvil/status.h>

#include <stdint.h>

namespace kernel {

// An ANVIL_OK / ANVIL_ERR_* code. A class, not an alias of anvil_status_t, only
// so that it can be [[nodiscard]]: it converts to and from the code freely.
class [[nodiscard]] Status {
public:
    constexpr Status() = default;                                // ANVIL_OK, as a zeroed anvil_status_t
    constexpr Status(anvil_status_t code) : code_(code) {}      // NOLINT: implicit on purpose
    constexpr operator anvil_status_t() const { return code_; }  // NOLINT: implicit on purpose

private:
    anvil_status_t code_ = ANVIL_OK;
};

// Drops a status its caller made sure is ANVIL_OK beforehand (a range it has
// just checked, a slot it knows is free). Named, so that every such place can
// be found, and [[nodiscard]] warns everywhere else.
constexpr void already_checked(Status) {}

// A failed status on its way out of a function returning Status or Result<T>.
struct Error {
    Status status;
    operator Status() const { return status; }  // NOLINT: implicit on purpose
};

// A value or the status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(value), status_(ANVIL_OK) {}  // NOLINT: implicit on purpose
    Result(Error e) : value_(), status_(e.status) {}       // NOLINT: implicit on purpose
    static Result error(Status s) { return Result(s, 0); }

    bool ok() const { return status_ == ANVIL_OK; }
    Status status() const { return status_; }
    T value() const { return value_; }

private:
    Result(Status s, int) : value_(), status_(s) {}
    T value_;
    Status status_;
};

}  // namespace kernel

// Returns the status from the enclosing function (of Status or Result<T>) if
// `expr` (a Status) failed.
#define TRY(expr)                                     \
    do {                                              \
        ::kernel::Status try_status_ = (expr);        \
        if (try_status_ != ANVIL_OK)                  \
            return ::kernel::Error{try_status_};      \
    } while (0)

// Declares `var` from a Result-returning `expr`, returning its status on failure.
#define TRY_ASSIGN(var, expr)                       \
    auto var##_result_ = (expr);                    \
    if (!var##_result_.ok())                        \
        return ::kernel::Error{var##_result_.status()}; \
    auto var = var##_result_.value()
