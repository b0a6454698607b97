#ifndef NETSTACK_INTERRUPT_H
#define NETSTACK_INTERRUPT_H

/// SIGINT (and SIGTERM, counted as one) for `netstack run`, caught by a real signal handler that is in place before the script
/// starts (so no SIGINT is lost to a handler that is not ready yet). Each of the first two SIGINTs
/// wakes netstack_interrupt_wait(), which a thread of the CLI's own calls: it closes the
/// connections after the first and exits after the second (flushing output), whatever the
/// script's loop is doing. A third SIGINT ends the process from the handler itself with
/// _exit(130), in case that thread cannot.
/// Returns 0, or -1 when the handler or its pipe cannot be set up.
int netstack_interrupt_install(void);

/// Blocks until the next SIGINT; returns how many have arrived so far, or -1 if not installed.
int netstack_interrupt_wait(void);

/// How many SIGINTs have arrived so far (does not wait, and wakes nobody).
int netstack_interrupt_count(void);

#endif
