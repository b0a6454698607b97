#ifndef NETSTACK_LUA_BRIDGE_H
#define NETSTACK_LUA_BRIDGE_H
/* The C side of the Lua boundary. Lua errors longjmp; a longjmp across Swift frames is undefined
 * behaviour, so Swift never raises: Swift functions return a status and the C code here raises
 * (and calls every Lua API that may raise inside a protected call). */
#include <stddef.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

/* A Swift function exposed to Lua: returns n >= 0 (results pushed) or -1 (an error message is
 * on top of the stack; the trampoline raises it with lua_error). */
typedef int (*netstack_swift_fn)(lua_State *L, void *context);

/* Pushes a C closure that calls fn(L, context). */
void netstack_push_swift_function(lua_State *L, netstack_swift_fn fn, void *context);

/* Calls the function below nargs arguments with a traceback message handler. Returns the
 * lua_pcall status; on error the message (with traceback) is on top of the stack. */
int netstack_pcall_traceback(lua_State *L, int nargs, int nresults);

/* Puts the traceback message handler at stack index 1 of the main stack, where it stays, so that
 * calls from the host (netstack_pcall_base) need no handler push per call. */
void netstack_install_msghandler(lua_State *L);
/* lua_pcall with the handler at index 1 (see netstack_install_msghandler). When index 1 does not
 * hold the handler (a state other than the main one, or a stack someone emptied), it falls back
 * to netstack_pcall_traceback, which pushes one. */
int netstack_pcall_base(lua_State *L, int nargs, int nresults);

/* A run of messages for one protected call: next() gives the next message (1, with its bytes,
 * length and whether it is binary) or ends the run (0). */
typedef struct {
    int (*next)(void *context, const void **data, size_t *length, int *binary);
    void *context;
    /* Nonzero: the instruction budget is reset before each message, as for each callback. */
    int reset_budget;
} netstack_message_run;

/* Pushes the function that, called (through netstack_pcall_base) with (callback, client, text
 * kind, binary kind, run as a light userdata), calls callback(client, data, length, kind) for each
 * message of the run. A traceback of an error in the callback does not show this function. */
void netstack_push_message_run_caller(lua_State *L);

/* Calls the function below nargs arguments in a coroutine, the VM's entry thread (an iteration's
 * entry point, a plain run's main; made once and reused while it is free), with the memory limit
 * enforced and the thread as the running state. Returns LUA_OK (it returned; results dropped), LUA_YIELD (it waits: it yielded the wait
 * mark, as coroutines.lua's waiting functions do, and whatever it waits for resumes it), or an
 * error status with the message and the coroutine's traceback on top (the exit and interrupt
 * markers as they are; a yield without the mark is an error too). Nothing else is left on L. */
int netstack_resume_entry(lua_State *L, int nargs);
/* True for a thread netstack_resume_entry made. */
int netstack_is_entry_thread(lua_State *co);
/* Pushes the wait mark (a light userdata), and a function isEntryThread(co) for coroutines.lua. */
void netstack_push_wait_mark(lua_State *L);
void netstack_push_is_entry_thread(lua_State *L);

/* Loads and runs a chunk from a file (NULL: stdin) in protected mode, with traceback. The chunk
 * receives nargs values already pushed. Returns the status; message on top on error. */
int netstack_dofile(lua_State *L, const char *path, int nargs);

/* os.exit in the states made below ends the run through the host instead of ending the process
 * at once (which would skip the run's summary and output files, and free what other threads still
 * use): it calls the function registered by netstack_set_host_exit with its status (nil, a
 * boolean or an integer; a numeric string is converted, as os.exit does), then unwinds with an
 * error object that is not an error: netstack_is_exit_unwind is true for it, and the message
 * handler leaves it as it is. With no function registered, os.exit is Lua's own. */
void netstack_set_host_exit(lua_State *L);  /* pops the host's exit function */
int netstack_is_exit_unwind(lua_State *L, int idx);
void netstack_push_exit_unwind(lua_State *L);
/* luaopen_os with that os.exit (for the lazy libraries), and the patch of an os table on top. */
int netstack_luaopen_os(lua_State *L);
void netstack_patch_os_exit(lua_State *L);
/* print as Lua's (tostring of each argument, tabs between, a newline), but the line is written to
 * stdout with one fwrite: the lines of VUs printing at once on other threads never interleave.
 * Set as the global print of every state made below. */
void netstack_set_line_print(lua_State *L);

/* A new state whose allocator enforces a byte limit (0: none), with the standard libraries. The
 * limit applies while Lua code runs; outside it (Swift functions, host calls) allocations are not
 * limited, and a real allocation failure aborts the process instead of raising a Lua error through
 * Swift frames. */
lua_State *netstack_newstate(size_t memory_limit);
/* The same, with coroutine, io, os, math, utf8 and debug opened on first use (netstack_lazy_libs.c). */
lua_State *netstack_newstate_lazy(size_t memory_limit);
/* Lazy tables (netstack_lazy_tables.c): a table described once per process whose entries are
 * made when first read. names: `count` entry names (kept for the process's life); context: the
 * host's. The push callback pushes entry i's value and returns 0, or pushes a message and
 * returns -1 (raised by the caller); it runs with the memory limit suspended. */
typedef struct {
    int count;
    const char *const *names;
    void *context;
} netstack_lazy_spec;
typedef int (*netstack_lazy_push_fn)(lua_State *L, void *context, int i);
void netstack_set_lazy_push(netstack_lazy_push_fn fn);
/* Pushes a new, empty lazy table and returns 1; returns 0 (nothing pushed) when out of memory. */
int netstack_lazy_table_new(lua_State *L, const netstack_lazy_spec *spec);
/* Makes every entry of the lazy table at index t and removes its laziness (no-op for other values).
 * May raise: call from C functions Lua called. */
void netstack_lazy_table_materialize(lua_State *L, int t);
void netstack_lazy_tables_materialize_all(lua_State *L);
/* next(t, k) as a C function (for __pairs metamethods). */
int netstack_raw_next(lua_State *L);
/* The memory limit suspended (outside Lua code) and restored, as around Swift functions. */
int netstack_enforce_suspend(lua_State *L);
void netstack_enforce_restore(lua_State *L, int saved);
/* Pops the loader function on top and installs the plugin runtime's stand-ins (netstack_plugin_stub.c). */
void netstack_install_plugin_stub(lua_State *L);
void netstack_close(lua_State *L);
size_t netstack_memory_used(lua_State *L);
/* The host object of a state and of all its threads (coroutines): Swift functions find their VM
 * here. NULL once the VM is gone. */
void netstack_set_owner(lua_State *L, void *owner);
void *netstack_owner(lua_State *L);
/* The collector's mode (lua_gc is variadic, which Swift cannot call): 1 generational, 0 incremental. */
void netstack_set_gc_mode(lua_State *L, int generational);
/* A full collection (lua_gc(L, LUA_GCCOLLECT)). */
void netstack_gc_collect(lua_State *L);
void netstack_set_memory_limit(lua_State *L, size_t limit);
/* Nonzero once an allocation was refused because of a limit (reset by reading it): 1 the state's
 * own, 2 its pool's. */
int netstack_memory_limit_hit(lua_State *L);
/* A byte limit shared by many states, on any threads (a load run's VUs together). Each state set
 * to a pool takes what it allocates from it (in chunks of 16 KiB, holding at most two spare) and gives it back as it frees;
 * an allocation that would take the pool below zero is refused while Lua code runs, as the
 * state's own limit refuses. A pool must outlive every state set to it. */
typedef struct netstack_pool netstack_pool;
netstack_pool *netstack_pool_new(size_t bytes);
void netstack_pool_free(netstack_pool *pool);
/* What the pool has left (below zero after allocations outside Lua code went over it). */
long long netstack_pool_available(netstack_pool *pool);
/* Sets a state's pool (NULL: none); what the state holds already is taken from it at once. */
void netstack_set_memory_pool(lua_State *L, netstack_pool *pool);

/* Instruction budget: raise "instruction budget exceeded" after `count` more VM instructions
 * (checked every 1000); 0 removes the hook. */
void netstack_set_instruction_budget(lua_State *L, long long count);
/* Remaining budget reset for the next callback. */
void netstack_reset_instruction_budget(lua_State *L);
/* Puts back the hook a state runs with: the instruction budget's, or none. */
void netstack_restore_hook(lua_State *L);

/* Stopping Lua code that never gives its thread back (netstack_interrupt.c). A load run stops a
 * VU whose iteration loops without end (`while true do end`) as Lua's own interpreter stops one
 * on Ctrl-C: a signal to the thread sets a hook (lua_sethook may be called from a signal handler)
 * on the state that thread runs, and the hook raises an error object that is not an error
 * (netstack_is_interrupt_unwind; the message handler leaves it as it is) while the VM's flag is
 * set, on every call, return and instruction, so that a pcall in the script cannot keep it.
 * The hook of a state whose VM is not being stopped puts its usual hook back. */
/* The thread's state that runs Lua code now: set by the host's protected calls and by the
 * coroutine.resume and coroutine.wrap of the states made here, which replace Lua's own. */
extern __thread lua_State *netstack_running_state __attribute__((tls_model("initial-exec")));
/* The VM's flag: any thread may set *flag (netstack_flag_store); the host owns the memory and
 * keeps it alive as long as the state. */
void netstack_set_interrupt_flag(lua_State *L, volatile int *flag);
volatile int *netstack_interrupt_flag(lua_State *L);
void netstack_flag_store(volatile int *flag, int value);
int netstack_flag_load(volatile int *flag);
int netstack_is_interrupt_unwind(lua_State *L, int idx);
int netstack_is_msghandler(lua_CFunction f);
/* Installs the signal handler (SIGURG, whose default is to be ignored), once per process; 0 when
 * it is in place. */
int netstack_vm_interrupt_install(void);
/* Asks the thread `thread` (a pthread_t) to check its running state: 0 when the signal was sent. */
int netstack_vm_interrupt_thread(unsigned long thread);
/* The calling thread, as netstack_vm_interrupt_thread takes it. */
unsigned long netstack_current_thread(void);
/* Replaces field `name` of the table on top of the stack with `wrapper`, whose upvalue 1 is the
 * field's old value (os.exit, coroutine.resume and coroutine.wrap are patched so). */
void netstack_wrap_field(lua_State *L, const char *name, lua_CFunction wrapper);
/* luaopen_coroutine with resume and wrap that keep netstack_running_state. */
int netstack_luaopen_coroutine(lua_State *L);
/* In an opened coroutine table on top of the stack: resume and wrap that keep it. */
void netstack_track_coroutines(lua_State *L);

/* Macro wrappers Swift cannot import. */
static inline void netstack_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void netstack_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *netstack_tostring(lua_State *L, int i) { return lua_tolstring(L, i, NULL); }
static inline int netstack_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int netstack_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int netstack_isnoneornil(lua_State *L, int i) { return lua_type(L, i) <= 0; }
static inline void netstack_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void netstack_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void netstack_getregistry_ref(lua_State *L, int ref) { lua_rawgeti(L, LUA_REGISTRYINDEX, ref); }
/* Pushes the globals table (from the registry: no metamethod runs, never raises). */
static inline void netstack_push_globals(lua_State *L) { lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); }

/* luaL_ref / luaL_unref / luaL_newmetatable / luaL_setfuncs-like helpers that cannot raise
 * out of memory into Swift frames: they run in protected mode and return LUA_NOREF / 0 on failure. */
int netstack_ref(lua_State *L);            /* pops the value, returns a registry reference */
void netstack_unref(lua_State *L, int ref);
/* Pushes t[name] for the table at `index`, metamethods included (a lazy table's __index), in
 * protected mode: nil when that raised. Returns the pushed value's type. */
int netstack_getfield_protected(lua_State *L, int index, const char *name);
#endif
