// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the verifier for BPF_PROG_TYPE_FUSE: each argument of a
 * request is a packet of its own (data_id = index + 1), read after a bounds
 * check on that same argument, never written directly, and replaced through
 * bpf_fuse_get_writeable_in() / _out(), after which only the replaced
 * argument's pointers are stale. The packet programs of other types verify
 * as before.
 *
 * Each case is a raw instruction program with its exact outcome: accepted,
 * or the errno and a piece of the verifier log that names the rejection.
 * The comment above each expected string names the function of
 * kernel/bpf/verifier.c that prints it.
 *
 * The expectations assume root (allow_ptr_leaks: a stale pointer becomes a
 * scalar, not an uninitialised register) and an architecture with
 * CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS (no strict alignment: a misaligned
 * context load reaches the context check). Packet reads are laid out so that
 * they are aligned even under strict alignment (NET_IP_ALIGN = 2).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../kselftest_harness.h"

/*
 * Instruction macros as in tools/include/linux/filter.h, which is not on
 * the include path of these tests.
 */
#ifndef BPF_MOV64_IMM
#define BPF_ALU64_IMM(OP, DST, IMM)					\
	((struct bpf_insn) { .code = BPF_ALU64 | BPF_OP(OP) | BPF_K,	\
			     .dst_reg = DST, .imm = IMM })
#define BPF_MOV64_REG(DST, SRC)						\
	((struct bpf_insn) { .code = BPF_ALU64 | BPF_MOV | BPF_X,	\
			     .dst_reg = DST, .src_reg = SRC })
#define BPF_MOV64_IMM(DST, IMM)						\
	((struct bpf_insn) { .code = BPF_ALU64 | BPF_MOV | BPF_K,	\
			     .dst_reg = DST, .imm = IMM })
#define BPF_LDX_MEM(SIZE, DST, SRC, OFF)				\
	((struct bpf_insn) { .code = BPF_LDX | BPF_SIZE(SIZE) | BPF_MEM, \
			     .dst_reg = DST, .src_reg = SRC, .off = OFF })
#define BPF_STX_MEM(SIZE, DST, SRC, OFF)				\
	((struct bpf_insn) { .code = BPF_STX | BPF_SIZE(SIZE) | BPF_MEM, \
			     .dst_reg = DST, .src_reg = SRC, .off = OFF })
#define BPF_ST_MEM(SIZE, DST, OFF, IMM)					\
	((struct bpf_insn) { .code = BPF_ST | BPF_SIZE(SIZE) | BPF_MEM,	\
			     .dst_reg = DST, .off = OFF, .imm = IMM })
#define BPF_JMP_REG(OP, DST, SRC, OFF)					\
	((struct bpf_insn) { .code = BPF_JMP | BPF_OP(OP) | BPF_X,	\
			     .dst_reg = DST, .src_reg = SRC, .off = OFF })
#define BPF_JMP_IMM(OP, DST, IMM, OFF)					\
	((struct bpf_insn) { .code = BPF_JMP | BPF_OP(OP) | BPF_K,	\
			     .dst_reg = DST, .off = OFF, .imm = IMM })
#define BPF_EMIT_CALL(FUNC)						\
	((struct bpf_insn) { .code = BPF_JMP | BPF_CALL,		\
			     .imm = ((FUNC) - BPF_FUNC_unspec) })
/* A map load is two instructions; run_case() patches the map fd in */
#define BPF_LD_MAP_FD_LO(DST)						\
	((struct bpf_insn) { .code = BPF_LD | BPF_DW | BPF_IMM,		\
			     .dst_reg = DST, .src_reg = BPF_PSEUDO_MAP_FD })
#define BPF_LD_IMM64_HI	((struct bpf_insn) {})
#define BPF_EXIT_INSN()							\
	((struct bpf_insn) { .code = BPF_JMP | BPF_EXIT })
#endif

/* struct __bpf_fuse_args, as the spec of issue 10 lays it out */
#define CTX_NODEID	0
#define CTX_OPCODE	8
#define CTX_IN_NUMARGS	16
#define CTX_PADDING	28
#define CTX_END		152
#define IN_VALUE(i)	(32 + 24 * (i))
#define IN_END(i)	(40 + 24 * (i))
#define OUT_VALUE(j)	(104 + 24 * (j))
#define OUT_END(j)	(112 + 24 * (j))

static_assert(offsetof(struct __bpf_fuse_args, opcode) == CTX_OPCODE, "");
static_assert(offsetof(struct __bpf_fuse_args, in_numargs) ==
	      CTX_IN_NUMARGS, "");
static_assert(offsetof(struct __bpf_fuse_args, padding) == CTX_PADDING, "");
static_assert(sizeof(struct __bpf_fuse_args) == CTX_END, "");
static_assert(offsetof(struct __bpf_fuse_args, in_args[1].value) ==
	       IN_VALUE(1), "");
static_assert(offsetof(struct __bpf_fuse_args, in_args[1].end_offset) ==
	       IN_END(1), "");
static_assert(offsetof(struct __bpf_fuse_args, out_args[1].value) ==
	       OUT_VALUE(1), "");
static_assert(offsetof(struct __bpf_fuse_args, out_args[1].end_offset) ==
	       OUT_END(1), "");

#define R0	BPF_REG_0
#define R1	BPF_REG_1
#define R2	BPF_REG_2
#define R3	BPF_REG_3
#define R4	BPF_REG_4
#define R5	BPF_REG_5
#define R6	BPF_REG_6
#define R7	BPF_REG_7
#define R8	BPF_REG_8
#define R9	BPF_REG_9
#define R10	BPF_REG_10

/* One load from the context into R2, then return 0 */
#define CTX_LOAD(size, off)						\
	{ BPF_LDX_MEM(size, R2, R1, off), BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN() }

#define MAX_INSNS	64

struct vt_case {
	const char *name;
	enum bpf_prog_type type;	/* 0: BPF_PROG_TYPE_FUSE */
	struct bpf_insn insns[MAX_INSNS];
	int err;			/* 0: accepted */
	const char *log;		/* with err: a piece of the log */
};

/* The program's length: up to its last non-zero instruction */
static int prog_len(const struct bpf_insn *insns)
{
	int len;

	for (len = MAX_INSNS - 1; len > 0; len--)
		if (insns[len].code || insns[len].imm)
			break;
	return len + 1;
}

/*
 * Load @c, with @map_fd patched into its map loads, and check that it has
 * the expected outcome.
 */
static char log[1 << 20];

static void run_case(struct __test_metadata *_metadata,
		     const struct vt_case *c, int map_fd)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .log_buf = log,
		    .log_size = sizeof(log),
		    .log_level = 1,
	);
	enum bpf_prog_type type = c->type ?: BPF_PROG_TYPE_FUSE;
	struct bpf_insn insns[MAX_INSNS];
	int len = prog_len(c->insns);
	int i, fd, err;

	memcpy(insns, c->insns, sizeof(insns));
	for (i = 0; i < len; i++)
		if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) &&
		    insns[i].src_reg == BPF_PSEUDO_MAP_FD)
			insns[i].imm = map_fd;

	log[0] = '\0';
	errno = 0;
	fd = bpf_prog_load(type, NULL, "GPL", insns, len, &opts);
	err = errno;
	if (fd >= 0)
		close(fd);

	if (!c->err) {
		EXPECT_LE(0, fd)
			TH_LOG("%s: rejected (%s), expected accepted; log:\n%s",
			       c->name, strerror(err), log);
		return;
	}
	EXPECT_GT(0, fd)
		TH_LOG("%s: accepted, expected %s and \"%s\"; log:\n%s",
		       c->name, strerror(c->err), c->log, log);
	if (fd >= 0)
		return;
	EXPECT_EQ(c->err, err)
		TH_LOG("%s: %s, expected %s; log:\n%s", c->name,
		       strerror(err), strerror(c->err), log);
	EXPECT_NE(NULL, strstr(log, c->log))
		TH_LOG("%s: no \"%s\" in the log:\n%s", c->name, c->log, log);
}

/* A hash map, u32 -> u64, for the cases with map helpers */
static int make_map(struct __test_metadata *_metadata)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "verifier_test",
				sizeof(__u32), sizeof(__u64), 1, NULL);

	ASSERT_LE(0, fd) TH_LOG("bpf_map_create: %s", strerror(errno));
	return fd;
}

static void run_cases(struct __test_metadata *_metadata,
		      const struct vt_case *cases, size_t n)
{
	int map_fd = make_map(_metadata);
	size_t i;

	for (i = 0; i < n; i++)
		run_case(_metadata, &cases[i], map_fd);
	close(map_fd);
}

/* FUSE programs the verifier accepts */
static const struct vt_case fuse_accepted_cases[] = {
	{
		.name = "read opcode and nodeid",
		.insns = {
			BPF_LDX_MEM(BPF_W, R2, R1, CTX_OPCODE),
			BPF_LDX_MEM(BPF_DW, R3, R1, CTX_NODEID),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "read in_args[0] after its check",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		/* aligned for NET_IP_ALIGN = 2 too: 2 + off is a multiple */
		.name = "loop-free multi-byte read of in_args[0]",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 14),
			BPF_JMP_REG(BPF_JGT, R0, R8, 4),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_LDX_MEM(BPF_H, R2, R7, 0),
			BPF_LDX_MEM(BPF_W, R2, R7, 2),
			BPF_LDX_MEM(BPF_DW, R2, R7, 6),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "read in_args[0] and in_args[1], each after its check",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 7),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(1)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(1)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 2),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "read out_args[0] after its check",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, OUT_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, OUT_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 4),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 3),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "get_writeable_in, NULL check, write within size",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_JMP_IMM(BPF_JEQ, R0, 0, 2),
			BPF_ST_MEM(BPF_W, R0, 0, 42),
			BPF_ST_MEM(BPF_B, R0, 3, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "get_writeable_out, NULL check, write within size",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, OUT_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 16),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_out),
			BPF_JMP_IMM(BPF_JEQ, R0, 0, 1),
			BPF_ST_MEM(BPF_DW, R0, 8, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "get_writeable_in, reload value/end_offset, read",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 4),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 3),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		/* clear_pkt_pointers(): only data_id 1 is cleared */
		.name = "in_args[1] pointer still valid after get_writeable_in(0)",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_VALUE(1)),
			BPF_LDX_MEM(BPF_DW, R9, R6, IN_END(1)),
			BPF_MOV64_REG(R0, R8),
			BPF_ALU64_IMM(BPF_ADD, R0, 2),
			BPF_JMP_REG(BPF_JGT, R0, R9, 7),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_LDX_MEM(BPF_B, R2, R8, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "map lookup, update, delete",
		.insns = {
			BPF_ST_MEM(BPF_W, R10, -4, 0),
			BPF_ST_MEM(BPF_DW, R10, -16, 7),
			BPF_MOV64_REG(R2, R10),
			BPF_ALU64_IMM(BPF_ADD, R2, -4),
			BPF_LD_MAP_FD_LO(R1), BPF_LD_IMM64_HI,
			BPF_EMIT_CALL(BPF_FUNC_map_lookup_elem),
			BPF_JMP_IMM(BPF_JEQ, R0, 0, 1),
			BPF_LDX_MEM(BPF_DW, R1, R0, 0),
			BPF_MOV64_REG(R2, R10),
			BPF_ALU64_IMM(BPF_ADD, R2, -4),
			BPF_MOV64_REG(R3, R10),
			BPF_ALU64_IMM(BPF_ADD, R3, -16),
			BPF_LD_MAP_FD_LO(R1), BPF_LD_IMM64_HI,
			BPF_MOV64_IMM(R4, BPF_ANY),
			BPF_EMIT_CALL(BPF_FUNC_map_update_elem),
			BPF_MOV64_REG(R2, R10),
			BPF_ALU64_IMM(BPF_ADD, R2, -4),
			BPF_LD_MAP_FD_LO(R1), BPF_LD_IMM64_HI,
			BPF_EMIT_CALL(BPF_FUNC_map_delete_elem),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "get_current_uid_gid, get_current_pid_tgid",
		.insns = {
			BPF_EMIT_CALL(BPF_FUNC_get_current_uid_gid),
			BPF_EMIT_CALL(BPF_FUNC_get_current_pid_tgid),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		.name = "ktime_get_ns, _boot_ns, _coarse_ns",
		.insns = {
			BPF_EMIT_CALL(BPF_FUNC_ktime_get_ns),
			BPF_EMIT_CALL(BPF_FUNC_ktime_get_boot_ns),
			BPF_EMIT_CALL(BPF_FUNC_ktime_get_coarse_ns),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
	{
		/* "hi\n" on the stack (little endian), size 4 with its NUL */
		.name = "trace_printk",
		.insns = {
			BPF_ST_MEM(BPF_W, R10, -8, 0x000a6968),
			BPF_MOV64_REG(R1, R10),
			BPF_ALU64_IMM(BPF_ADD, R1, -8),
			BPF_MOV64_IMM(R2, 4),
			BPF_EMIT_CALL(BPF_FUNC_trace_printk),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
	},
};

/* FUSE programs the verifier refuses, and why */
static const struct vt_case fuse_rejected_cases[] = {
	/* Packets: each argument is bounded by its own check only */
	{
		.name = "check in_args[1] end against in_args[0] value",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(1)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R7(id=0,off=0,r=0)",
	},
	{
		.name = "check in_args[0], read in_args[1]",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_LDX_MEM(BPF_DW, R9, R6, IN_VALUE(1)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R9, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R9(id=0,off=0,r=0)",
	},
	{
		.name = "check out_args[0], read out_args[1]",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, OUT_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, OUT_END(0)),
			BPF_LDX_MEM(BPF_DW, R9, R6, OUT_VALUE(1)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R9, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R9(id=0,off=0,r=0)",
	},
	{
		.name = "read in_args[0] without a check",
		.insns = {
			BPF_LDX_MEM(BPF_DW, R7, R1, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R7(id=0,off=0,r=0)",
	},
	{
		.name = "read in_args[0] past its check",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=1 size=1, R7(id=0,off=1,r=1)",
	},
	{
		.name = "direct write into in_args[0] (BPF_ST)",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_ST_MEM(BPF_B, R7, 0, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_mem_access() */
		.log = "cannot write into packet",
	},
	{
		.name = "direct write into out_args[0] (BPF_STX)",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, OUT_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, OUT_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 4),
			BPF_JMP_REG(BPF_JGT, R0, R8, 2),
			BPF_MOV64_IMM(R2, 0),
			BPF_STX_MEM(BPF_W, R7, R2, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_mem_access() */
		.log = "cannot write into packet",
	},

	/* bpf_fuse_get_writeable_in/_out */
	{
		/* clear_pkt_pointers() -> mark_reg_invalid(): a scalar */
		.name = "stale in_args[0] value used after get_writeable_in(0)",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 7),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_REG(R3, R7),
			BPF_MOV64_IMM(R4, 1),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_mem_access() */
		.log = "R7 invalid mem access 'scalar'",
	},
	{
		/*
		 * The old end_offset is a scalar too: a check of the new
		 * value against it grants nothing.
		 */
		.name = "stale in_args[0] end_offset used after get_writeable_in(0)",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R8, R6, IN_END(0)),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_LDX_MEM(BPF_DW, R7, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R0, R7),
			BPF_ALU64_IMM(BPF_ADD, R0, 1),
			BPF_JMP_REG(BPF_JGT, R0, R8, 1),
			BPF_LDX_MEM(BPF_B, R2, R7, 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R7(id=0,off=0,r=0)",
	},
	{
		.name = "write past the size given to get_writeable_in",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_JMP_IMM(BPF_JEQ, R0, 0, 1),
			BPF_ST_MEM(BPF_B, R0, 4, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to memory, mem_size=4 off=4 size=1",
	},
	{
		.name = "get_writeable_in result used without a NULL check",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_ST_MEM(BPF_B, R0, 0, 1),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_mem_access() */
		.log = "R0 invalid mem access 'mem_or_null'",
	},
	{
		.name = "get_writeable_in with a size not a constant",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_W, R4, R6, CTX_IN_NUMARGS),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_func_arg(), ARG_CONST_ALLOC_SIZE_OR_ZERO */
		.log = "R4 is not a known constant'",
	},
	{
		.name = "get_writeable_in with value + 1",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_ALU64_IMM(BPF_ADD, R3, 1),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_ptr_off_reg(), from check_func_arg() */
		.log = "dereference of modified pkt ptr R3 off=1 disallowed",
	},
	{
		.name = "get_writeable_in with a stack pointer as value",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_MOV64_REG(R3, R10),
			BPF_ALU64_IMM(BPF_ADD, R3, -8),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_reg_type() */
		.log = "R3 type=fp expected=pkt",
	},
	{
		.name = "get_writeable_in with NULL as value",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, IN_VALUE(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_MOV64_IMM(R3, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_in),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_reg_type() */
		.log = "R3 type=scalar expected=pkt",
	},
	{
		.name = "get_writeable_out with end_offset as value",
		.insns = {
			BPF_MOV64_REG(R6, R1),
			BPF_LDX_MEM(BPF_DW, R3, R6, OUT_END(0)),
			BPF_MOV64_REG(R1, R6),
			BPF_MOV64_IMM(R2, 0),
			BPF_MOV64_IMM(R4, 4),
			BPF_MOV64_IMM(R5, 0),
			BPF_EMIT_CALL(BPF_FUNC_fuse_get_writeable_out),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_reg_type() */
		.log = "R3 type=pkt_end expected=pkt",
	},

	/* The context: read-only, exact sizes, known fields */
	{
		.name = "write opcode (BPF_STX)",
		.insns = {
			BPF_MOV64_IMM(R2, 0),
			BPF_STX_MEM(BPF_W, R1, R2, CTX_OPCODE),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=8 size=4",
	},
	{
		.name = "write in_args[0].value (BPF_ST)",
		.insns = {
			BPF_ST_MEM(BPF_DW, R1, IN_VALUE(0), 0),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=32 size=8",
	},
	{
		.name = "opcode as u8",
		.insns = CTX_LOAD(BPF_B, CTX_OPCODE),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=8 size=1",
	},
	{
		.name = "opcode as u16",
		.insns = CTX_LOAD(BPF_H, CTX_OPCODE),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=8 size=2",
	},
	{
		.name = "opcode as u64",
		.insns = CTX_LOAD(BPF_DW, CTX_OPCODE),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=8 size=8",
	},
	{
		.name = "nodeid as u32",
		.insns = CTX_LOAD(BPF_W, CTX_NODEID),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=0 size=4",
	},
	{
		.name = "in_args[0].value as u32",
		.insns = CTX_LOAD(BPF_W, IN_VALUE(0)),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=32 size=4",
	},
	{
		.name = "out_args[1].end_offset as u32",
		.insns = CTX_LOAD(BPF_W, OUT_END(1)),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=136 size=4",
	},
	{
		.name = "misaligned u32 at 10",
		.insns = CTX_LOAD(BPF_W, 10),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=10 size=4",
	},
	{
		.name = "misaligned u64 at 36",
		.insns = CTX_LOAD(BPF_DW, 36),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=36 size=8",
	},
	{
		.name = "padding",
		.insns = CTX_LOAD(BPF_W, CTX_PADDING),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=28 size=4",
	},
	{
		.name = "u32 at the end (152)",
		.insns = CTX_LOAD(BPF_W, CTX_END),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=152 size=4",
	},
	{
		.name = "u64 at the end (152)",
		.insns = CTX_LOAD(BPF_DW, CTX_END),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=152 size=8",
	},
	{
		.name = "u32 at 4096",
		.insns = CTX_LOAD(BPF_W, 4096),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=4096 size=4",
	},
	{
		.name = "u32 at -4",
		.insns = CTX_LOAD(BPF_W, -4),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=-4 size=4",
	},
	{
		.name = "u64 at -8",
		.insns = CTX_LOAD(BPF_DW, -8),
		.err = EACCES,
		/* check_ctx_access() */
		.log = "invalid bpf_context access off=-8 size=8",
	},

	/* Helpers outside the set (bpf_fuse_func_proto() gives NULL) */
	{
		.name = "bpf_get_prandom_u32",
		.insns = {
			BPF_EMIT_CALL(BPF_FUNC_get_prandom_u32),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EINVAL,
		/* check_helper_call() */
		.log = "program of this type cannot use helper bpf_get_prandom_u32#7",
	},
	{
		.name = "bpf_probe_read_user",
		.insns = {
			BPF_MOV64_REG(R1, R10),
			BPF_ALU64_IMM(BPF_ADD, R1, -8),
			BPF_MOV64_IMM(R2, 8),
			BPF_MOV64_IMM(R3, 0),
			BPF_EMIT_CALL(BPF_FUNC_probe_read_user),
			BPF_MOV64_IMM(R0, 0), BPF_EXIT_INSN(),
		},
		.err = EINVAL,
		/* check_helper_call() */
		.log = "program of this type cannot use helper bpf_probe_read_user#112",
	},
};

/* The classic check, then a read of the EtherType: for XDP and TC */
#define PKT_CHECK_READ(data, data_end, ret)				\
	{ BPF_LDX_MEM(BPF_W, R2, R1, data),				\
	  BPF_LDX_MEM(BPF_W, R3, R1, data_end),				\
	  BPF_MOV64_REG(R0, R2),					\
	  BPF_ALU64_IMM(BPF_ADD, R0, 14),				\
	  BPF_JMP_REG(BPF_JGT, R0, R3, 1),				\
	  BPF_LDX_MEM(BPF_H, R4, R2, 12),				\
	  BPF_MOV64_IMM(R0, ret),					\
	  BPF_EXIT_INSN() }

/* The same check, then a write of the first byte */
#define PKT_CHECK_WRITE(data, data_end, ret)				\
	{ BPF_LDX_MEM(BPF_W, R2, R1, data),				\
	  BPF_LDX_MEM(BPF_W, R3, R1, data_end),				\
	  BPF_MOV64_REG(R0, R2),					\
	  BPF_ALU64_IMM(BPF_ADD, R0, 14),				\
	  BPF_JMP_REG(BPF_JGT, R0, R3, 1),				\
	  BPF_ST_MEM(BPF_B, R2, 0, 0),					\
	  BPF_MOV64_IMM(R0, ret),					\
	  BPF_EXIT_INSN() }

#define XDP_DATA	offsetof(struct xdp_md, data)
#define XDP_DATA_END	offsetof(struct xdp_md, data_end)
#define SKB_DATA	offsetof(struct __sk_buff, data)
#define SKB_DATA_END	offsetof(struct __sk_buff, data_end)

/* Packet programs of the other types: as before the series */
static const struct vt_case other_types_cases[] = {
	{
		.name = "XDP: check, read",
		.type = BPF_PROG_TYPE_XDP,
		.insns = PKT_CHECK_READ(XDP_DATA, XDP_DATA_END, XDP_PASS),
	},
	{
		.name = "XDP: check, write",
		.type = BPF_PROG_TYPE_XDP,
		.insns = PKT_CHECK_WRITE(XDP_DATA, XDP_DATA_END, XDP_PASS),
	},
	{
		.name = "XDP: read without a check",
		.type = BPF_PROG_TYPE_XDP,
		.insns = {
			BPF_LDX_MEM(BPF_W, R2, R1, XDP_DATA),
			BPF_LDX_MEM(BPF_B, R4, R2, 0),
			BPF_MOV64_IMM(R0, XDP_PASS),
			BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)",
	},
	{
		.name = "TC: check, read",
		.type = BPF_PROG_TYPE_SCHED_CLS,
		.insns = PKT_CHECK_READ(SKB_DATA, SKB_DATA_END, 0),
	},
	{
		.name = "TC: check, write",
		.type = BPF_PROG_TYPE_SCHED_CLS,
		.insns = PKT_CHECK_WRITE(SKB_DATA, SKB_DATA_END, 0),
	},
	{
		.name = "TC: read past the check",
		.type = BPF_PROG_TYPE_SCHED_CLS,
		.insns = {
			BPF_LDX_MEM(BPF_W, R2, R1, SKB_DATA),
			BPF_LDX_MEM(BPF_W, R3, R1, SKB_DATA_END),
			BPF_MOV64_REG(R0, R2),
			BPF_ALU64_IMM(BPF_ADD, R0, 14),
			BPF_JMP_REG(BPF_JGT, R0, R3, 1),
			BPF_LDX_MEM(BPF_B, R4, R2, 14),
			BPF_MOV64_IMM(R0, 0),
			BPF_EXIT_INSN(),
		},
		.err = EACCES,
		/* __check_mem_access() */
		.log = "invalid access to packet, off=14 size=1, R2(id=0,off=14,r=14)",
	},
	{
		/* read-only packets: may_access_direct_pkt_data() */
		.name = "LWT_IN: check, read",
		.type = BPF_PROG_TYPE_LWT_IN,
		.insns = PKT_CHECK_READ(SKB_DATA, SKB_DATA_END, 0),
	},
	{
		.name = "LWT_IN: check, write",
		.type = BPF_PROG_TYPE_LWT_IN,
		.insns = PKT_CHECK_WRITE(SKB_DATA, SKB_DATA_END, 0),
		.err = EACCES,
		/* check_mem_access() */
		.log = "cannot write into packet",
	},
};

TEST(fuse_accepted)
{
	run_cases(_metadata, fuse_accepted_cases,
		  ARRAY_SIZE(fuse_accepted_cases));
}

TEST(fuse_rejected)
{
	run_cases(_metadata, fuse_rejected_cases,
		  ARRAY_SIZE(fuse_rejected_cases));
}

TEST(other_types_unchanged)
{
	run_cases(_metadata, other_types_cases,
		  ARRAY_SIZE(other_types_cases));
}

TEST_HARNESS_MAIN
