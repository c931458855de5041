/*
 * The admin command line: `localai nodes|models|events|status …`.
 *
 * nodes, models and events talk to a frontend's admin API over HTTP
 * (libcurl; --url, default $LOCALAI_URL or http://127.0.0.1:8080, and
 * --admin-key, default $LOCALAI_ADMIN_KEY); status reads the local
 * supervisor's control socket (supervisor/status.h).  Tables for people,
 * --json for scripts.  Runs in the command's own process, never in a
 * supervisor (libcurl's resolver may start a thread).
 *
 * Exit codes, which scripts may rely on:
 */
#ifndef LOCALAI_SUP_CLI_H
#define LOCALAI_SUP_CLI_H

#define CLI_EXIT_OK 0 /* done */
#define CLI_EXIT_API 1 /* the frontend refused or failed */
#define CLI_EXIT_USAGE 2 /* bad command line */
#define CLI_EXIT_UNREACHABLE 3 /* no frontend / supervisor answers */
#define CLI_EXIT_UNAUTHORIZED 4 /* admin key missing or wrong */
#define CLI_EXIT_NOT_FOUND 5 /* no such node or model */

/* 1 when word is a CLI command (nodes, models, events, status). */
int cli_is_command(const char *word);
/*
 * Run one command; argv[0] is the command word.  Returns the exit code.
 */
int cli_main(int argc, char **argv);

#endif
