/* Configuration: properties files, environment variables, flags,
 * precedence, and invalid values that must stop the start. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "tests/unit/unit.h"

static int load(struct broker_config *cfg, char **argv, int argc, char **envp, char *err)
{
    bool wants_exit;
    return config_load(cfg, argc, argv, envp, err, 512, &wants_exit);
}

START_TEST(defaults)
{
    struct broker_config cfg;
    char err[512] = "";
    char *argv[] = {"rill"};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&cfg, argv, 1, envp, err), 0);
    ck_assert_int_eq(cfg.node_id, 1);
    ck_assert_int_eq(cfg.num_partitions, 1);
    ck_assert(cfg.auto_create_topics_enable);
    ck_assert_int_eq(cfg.listener.port, 9092);
    ck_assert_str_eq(cfg.advertised.host, "localhost");
    ck_assert_int_eq(cfg.socket_request_max_bytes, 104857600);
    ck_assert_int_eq(cfg.log_defaults.retention_ms, 168LL * 3600 * 1000);
    ck_assert_int_eq(cfg.log_defaults.flush_policy, FLUSH_ALWAYS);
    config_free(&cfg);
}
END_TEST

START_TEST(file_env_and_flags_in_order)
{
    char *dir = unit_tempdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/server.properties", dir);
    FILE *f = fopen(path, "w");
    fputs("# comment\n! also a comment\n"
          "num.partitions = 3\n"
          "log.dirs: /tmp/from-file\n"
          "auto.create.topics.enable false\n"
          "listeners=PLAINTEXT://127.0.0.1:\\\n"
          "  19092\n"
          "log.retention.hours=1\n"
          "inter.broker.listener.name=PLAINTEXT\n",
          f);
    fclose(f);
    struct broker_config cfg;
    char err[512] = "";
    char *argv[] = {"rill", path, "--num.partitions=5"};
    char *envp[] = {"KAFKA_LOG_DIRS=/tmp/from-env", "RILL_NODE_ID=7", NULL};
    ck_assert_int_eq(load(&cfg, argv, 3, envp, err), 0);
    ck_assert_int_eq(cfg.num_partitions, 5);              /* flag beats file */
    ck_assert_str_eq(cfg.log_dirs, "/tmp/from-env");      /* env beats file */
    ck_assert_int_eq(cfg.node_id, 7);
    ck_assert(!cfg.auto_create_topics_enable);
    ck_assert_int_eq(cfg.listener.port, 19092);           /* continuation line */
    ck_assert_str_eq(cfg.listener.host, "127.0.0.1");
    ck_assert_int_eq(cfg.log_defaults.retention_ms, 3600 * 1000);
    config_free(&cfg);
    unit_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(env_name_rule)
{
    struct broker_config cfg;
    char err[512] = "";
    char *argv[] = {"rill"};
    char *envp[] = {"KAFKA_CFG_SOCKET_REQUEST_MAX_BYTES=1000", "KAFKA_LOG_RETENTION_MS=5", NULL};
    ck_assert_int_eq(load(&cfg, argv, 1, envp, err), 0);
    ck_assert_int_eq(cfg.socket_request_max_bytes, 1000);
    ck_assert_int_eq(cfg.log_defaults.retention_ms, 5);
    config_free(&cfg);
}
END_TEST

static void expect_invalid(char **argv, int argc, char **envp, const char *key)
{
    struct broker_config cfg;
    char err[512] = "";
    ck_assert_int_ne(load(&cfg, argv, argc, envp, err), 0);
    ck_assert_msg(strstr(err, key) != NULL, "error '%s' does not name %s", err, key);
    config_free(&cfg);
}

START_TEST(invalid_values_name_their_key)
{
    char *env0[] = {NULL};
    expect_invalid((char *[]){"rill", "--num.partitions=zero"}, 2, env0, "num.partitions");
    expect_invalid((char *[]){"rill", "--num.partitions=0"}, 2, env0, "num.partitions");
    expect_invalid((char *[]){"rill", "--auto.create.topics.enable=yes"}, 2, env0,
                   "auto.create.topics.enable");
    expect_invalid((char *[]){"rill", "--listeners=localhost:9092"}, 2, env0, "listeners");
    expect_invalid((char *[]){"rill", "--listeners=PLAINTEXT://:99999"}, 2, env0, "listeners");
    expect_invalid((char *[]){"rill", "--log.flush.policy=sometimes"}, 2, env0,
                   "log.flush.policy");
    expect_invalid((char *[]){"rill", "--log.segment.bytes=100"}, 2, env0, "log.segment.bytes");
    expect_invalid((char *[]){"rill", "--no.such.key=1"}, 2, env0, "no.such.key");
    expect_invalid((char *[]){"rill", "--process.roles=controller"}, 2, env0, "process.roles");
    expect_invalid((char *[]){"rill", "--queued.max.request.bytes=1048576"}, 2, env0,
                   "queued.max.request.bytes");
    expect_invalid((char *[]){"rill", "--queued.max.request.bytes=0"}, 2, env0,
                   "queued.max.request.bytes");
    expect_invalid((char *[]){"rill", "--queued.max.requests=0"}, 2, env0, "queued.max.requests");
    expect_invalid((char *[]){"rill", "--max.connections.per.ip.overrides=127.0.0.1"}, 2, env0,
                   "max.connections.per.ip.overrides");
    expect_invalid((char *[]){"rill", "--max.connections.per.ip.overrides=:5"}, 2, env0,
                   "max.connections.per.ip.overrides");
    expect_invalid((char *[]){"rill", "--max.connections.per.ip.overrides=h:-1"}, 2, env0,
                   "max.connections.per.ip.overrides");
    char *env1[] = {"RILL_SOCKET_REQUEST_MAX_BYTES=-5", NULL};
    expect_invalid((char *[]){"rill"}, 1, env1, "socket.request.max.bytes");
    expect_invalid((char *[]){"rill", "/nonexistent/server.properties"}, 2, env0,
                   "/nonexistent/server.properties");
}
END_TEST

START_TEST(connection_limits_and_overrides)
{
    char err[256];
    bool wants_exit;
    struct broker_config cfg;
    char *env[] = {NULL};
    char *argv[] = {"rill", "--max.connections.per.ip.overrides=10.0.0.1:5, ::1:0,host-a:7"};
    ck_assert_int_eq(config_load(&cfg, 2, argv, env, err, sizeof(err), &wants_exit), 0);
    ck_assert_uint_eq(cfg.ip_override_count, 3);
    ck_assert_str_eq(cfg.ip_overrides[0].address, "10.0.0.1");
    ck_assert_int_eq(cfg.ip_overrides[0].max_connections, 5);
    ck_assert_str_eq(cfg.ip_overrides[1].address, "::1");
    ck_assert_int_eq(cfg.ip_overrides[1].max_connections, 0);
    ck_assert_str_eq(cfg.ip_overrides[2].address, "host-a");
    ck_assert_int_eq(cfg.queued_max_request_bytes, 268435456);
    ck_assert_int_eq(cfg.queued_max_requests, 500);
    ck_assert_int_eq(cfg.max_connections, INT32_MAX);
    config_free(&cfg);
    /* Kafka's unlimited pool is accepted too. */
    char *argv2[] = {"rill", "--queued.max.request.bytes=-1"};
    ck_assert_int_eq(config_load(&cfg, 2, argv2, env, err, sizeof(err), &wants_exit), 0);
    ck_assert_int_eq(cfg.queued_max_request_bytes, -1);
    config_free(&cfg);
}
END_TEST

static int load_args(struct broker_config *cfg, char *err, int argc, ...)
{
    char *argv[16] = {"rill"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc && i < 16; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    char *envp[] = {NULL};
    err[0] = '\0';
    int rc = load(cfg, argv, argc, envp, err);
    config_free(cfg);
    return rc;
}

START_TEST(quorum_voters_and_listeners)
{
    struct broker_config cfg;
    char err[512];
    char *argv[] = {"rill", "--node.id=2",
                    "--controller.quorum.voters=1@127.0.0.1:9093, 2@[::1]:9095,3@h3:9097",
                    "--listeners=PLAINTEXT://:9094,CONTROLLER://127.0.0.1:9095"};
    char *envp[] = {NULL};
    ck_assert_int_eq(load(&cfg, argv, 4, envp, err), 0);
    ck_assert_uint_eq(cfg.nvoters, 3);
    ck_assert(cfg.voter);
    ck_assert_int_eq(cfg.voters[1].id, 2);
    ck_assert_str_eq(cfg.voters[1].host, "::1");
    ck_assert_int_eq(cfg.voters[2].port, 9097);
    ck_assert_int_eq(cfg.listener.port, 9094);
    ck_assert_int_eq(cfg.controller.port, 9095);
    ck_assert_str_eq(cfg.controller.name, "CONTROLLER");
    config_free(&cfg);
    /* Unset: a quorum of one, this node, with no controller listener. */
    ck_assert_int_eq(load_args(&cfg, err, 1), 0);
    /* Errors name the key and the reason. */
    ck_assert_int_ne(load_args(&cfg, err, 3, "--node.id=4",
                               "--controller.quorum.voters=1@a:1,2@b:2"), 0);
    ck_assert_ptr_nonnull(strstr(err, "is not in controller.quorum.voters"));
    ck_assert_int_ne(load_args(&cfg, err, 2, "--controller.quorum.voters=1@a:1,1@b:2"), 0);
    ck_assert_ptr_nonnull(strstr(err, "voter 1 twice"));
    ck_assert_int_ne(load_args(&cfg, err, 2, "--controller.quorum.voters=x@a:1"), 0);
    ck_assert_ptr_nonnull(strstr(err, "expected id@host:port"));
    ck_assert_int_ne(load_args(&cfg, err, 2, "--controller.quorum.voters=1@a"), 0);
    ck_assert_ptr_nonnull(strstr(err, "missing port"));
    ck_assert_int_ne(load_args(&cfg, err, 2, "--controller.quorum.voters=1@a:1"), 0);
    ck_assert_ptr_nonnull(strstr(err, "has no CONTROLLER listener"));
    ck_assert_int_ne(load_args(&cfg, err, 3, "--process.roles=broker",
                               "--controller.quorum.voters=1@a:1"), 0);
    ck_assert_ptr_nonnull(strstr(err, "must not be one of them"));
    ck_assert_int_eq(load_args(&cfg, err, 4, "--process.roles=broker", "--node.id=5",
                               "--controller.quorum.voters=1@a:1"), 0);
    ck_assert_int_ne(load_args(&cfg, err, 2, "--listeners=SSL://:9093"), 0);
    ck_assert_ptr_nonnull(strstr(err, "only PLAINTEXT and the controller listener"));
    ck_assert_int_ne(load_args(&cfg, err, 2, "--listeners=CONTROLLER://:9093"), 0);
    ck_assert_ptr_nonnull(strstr(err, "no PLAINTEXT listener"));
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, file_env_and_flags_in_order);
    tcase_add_test(tc, env_name_rule);
    tcase_add_test(tc, invalid_values_name_their_key);
    tcase_add_test(tc, connection_limits_and_overrides);
    tcase_add_test(tc, quorum_voters_and_listeners);
    suite_add_tcase(s, tc);
    return s;
}
