"""The checked exercises of notebooks 01–09: questions, stepped hints, and answer keys.

Where the answer is a fact of this kernel it is measured (:mod:`ipclab.kernel_answers`, never
forking); every other answer, and every typical wrong answer that has its own hint, is kept
only as a salted digest (:func:`ipclab._answers.digest_of`), so reading this file does not
give an answer away.
Checked and graded through :mod:`ipclab.exercises`.
"""

from __future__ import annotations

import errno

from . import kernel_answers as kernel
from ._answers import Question

__all__ = ["EXERCISES"]


#: Every checked exercise of notebooks 01–09, by id, in the notebooks' order.
EXERCISES: dict = {
    # 01 — processes are isolated
    "01-child-write": Question(
        "x = 10; after fork() the child sets x = 20 and exits; then the parent prints x. "
        "What does it print?",
        digest="76a72741cbbc93007334549ec4770d702d9abf57e50eb37a062650f96c16593f",
        why="{answer}: the child changed its own copy of x; the parent's copy is untouched.",
        hints=(
            "Each process has its own address space: a write in one is invisible to the other.",
        ),
        mistakes={
            "c9636b098f030f1e238f088cad8a3baf3978c026fc43c6fe3fdda8418e3aa40e": (
                "That is the child's copy. Which process runs the print?"
            )
        },
    ),
    "01-same-address": Question(
        "True or False: right after fork(), a variable sits at the same virtual address "
        "in the parent and in the child.",
        digest="67a8cd006987092961f29db8feb3a233c607799d2b9f320708f0db3feb8b02c9",
        kind="bool",
        why="{answer}: the child's address space is a copy of the parent's, addresses "
        "included; the same address maps to different physical pages once either writes.",
        hints=("Look at address_in_parent and address_in_child in the experiment.",),
    ),
    "01-cow-faults": Question(
        "A child writes one byte into every page of a 4 MiB buffer it inherited "
        "(4 KiB pages). About how many page faults does it take?",
        digest="61fc95d12020ae83a7a55f7f52e3cd9925940716f183da0c57d11858f448362d",
        kind="number",
        tolerance=0.1,
        why="about {answer:,}: one copy-on-write fault per page (4 MiB / 4 KiB).",
        hints=(
            "The kernel copies a page the first time either process writes to it.",
            "How many pages does the buffer have?",
        ),
        mistakes={
            "6677f51383fe8a6eed4d61f39214d20552b8be071901ad8de8f536ca0cffa0fc": (
                "The pages are shared after fork(): "
                "what must the kernel do before the child may change one?"
            ),
            "45706979eac85430c1ebe11f983bf73f15bc4dd57a2a8a639abc98c48842828c": (
                "The kernel copies one page at a time, not the whole buffer at once."
            ),
        },
    ),
    # 02 — why processes talk
    "02-records": Question(
        "count_primes(limit, workers=4): how many records does the parent read from the "
        "shared pipe before end of file?",
        digest="bb9118ef92b7d9e2f52f4e95274e4717d172f755498b100e9ef8890ef0ed28a8",
        why="{answer}: each worker writes one record, then exits; EOF comes when all "
        "four have closed their write ends.",
        hints=("Who writes into the shared pipe, and how often does each of them write?",),
        mistakes={
            "23ca7223e9dbb11a95a8051870e592487384e45b180caed9ad98f435713f95af": (
                "The parent reads until end of file: does one worker's record end the stream?"
            )
        },
    ),
    "02-pipeline-pipes": Question(
        "The shell runs `ls | sort | wc -l`. How many pipes does it create?",
        digest="53a4002c778eaa5f7a36aaae55284f8b3ddf592fec482d7b0f0283cc7672bf0c",
        why="{answer}: one between each pair of neighbouring programs.",
        hints=("What connects two programs that sit next to each other?",),
        mistakes={
            "81daaa99c49ad6ba03309837fb1b7d7048c10b7d121fa8471a2d04fd8f0a18c4": (
                "Does a pipe connect one program, or two neighbours?"
            )
        },
    ),
    "02-max-speedup": Question(
        "On a machine with 2 CPUs and nothing else running, what is the highest speedup "
        "4 CPU-bound workers can reach over 1 worker?",
        digest="347133ecf50b562df2f53021b4c3eb83ddbd1e1871d0c247b7de09a045e5187e",
        kind="number",
        tolerance=0.1,
        why="{answer}: only 2 workers can run at any moment; more workers only share "
        "the same 2 CPUs (and cost forks and switches).",
        hints=("How many workers can run at the same moment?",),
        mistakes={
            "9505d6e6b8ac4f9f0db80ed6483dea36969bf5108b145cc50c10ca77f110daf9": (
                "Four workers, but can all four run at once?"
            )
        },
    ),
    # 03 — pipes and fork
    "03-pipes-for-conversation": Question(
        "How many pipes do a parent and a child need to talk both ways?",
        digest="cc10b5292cb5a7e87bfded5e675f0d3c4ec98f6cbe6681e36464738c92a90bd6",
        why="{answer}: a pipe carries data one way; one pipe each way.",
        hints=("A pipe has a read end and a write end: which way does its data flow?",),
        mistakes={
            "042dc50351bde225998594211e09607ef8fe283a00861814c9346b5845dfd5c5": (
                "If both wrote into one pipe, "
                "who would read each message — maybe the writer itself?"
            )
        },
    ),
    "03-eof-when": Question(
        "read() on a pipe returns b'' (end of file) when: 'a' the writer has written "
        "everything, 'b' every write end is closed, 'c' the pipe is empty. Answer a, b or c.",
        digest="ad1f17364b3d2cac509ddb2bf032ed80df4a781e320b75bdcf4dab8d486c3b50",
        kind="choice",
        why="b: an empty pipe with a writer still around blocks the reader; only when no "
        "process holds a write end does read() return b''.",
        hints=("Who could still write?",),
        mistakes={
            "8172f03c2c196e2498f565f74ec496419cefac067e78348943389e74a6d645ad": (
                "An empty pipe whose writer is still there: does the reader get EOF, or wait?"
            ),
            "ed3dd3a246f2af27119a19e716066d3ecf870e8de2ae3246cef32771b1b74a56": (
                "How would the kernel know the writer has nothing more to say?"
            ),
        },
    ),
    "03-child-closes": Question(
        "In the two-pipe conversation, how many pipe ends should the child close right "
        "after fork()?",
        digest="173cb729cd3779e2055ef64b755e4a6ab41053642ef3666990e2e07ff6ec5805",
        why="{answer}: the request pipe's write end and the reply pipe's read end.",
        hints=("The child keeps the end of each pipe it uses.",),
        mistakes={
            "38587988269a753949c89e5d17bbc3ac581cbbd0673ae3489a0b8e80c92610e0": (
                "Then the child could not talk at all."
            ),
            "8b8ad633ae9ea8479cc7fb80bd69fe898c02999883bad9409c8dc1ab3b2f8078": (
                "Then who would ever see end of file?"
            ),
        },
    ),
    # 04 — blocking and capacity
    "04-fill-3000": Question(
        "A pipe resized with fcntl(F_SETPIPE_SZ, 32768) (8 pages of 4 KiB). Non-blocking "
        "writes of 3,000 bytes into it until EAGAIN: how many bytes fit?",
        measure=kernel.fill_3000_in_32k,
        why=kernel.why_fill_3000,
        hints=(
            "Follow one page buffer: where does the second 3,000-byte write go?",
            "A write of at most PIPE_BUF bytes is never split between two pages.",
        ),
        mistakes={
            "cfbb65ad608492c22a2a278929e263bb509ce6caf2afaad67b7e303b2af30ca7": (
                "That is the pipe's capacity; with "
                "3,000-byte writes, is every page filled to the brim?"
            ),
            "978dfb629605b88ce0a57a176b92c6f5a8b8e17ac4b9e839d251524810419200": (
                "Could a write be split, part at the end of one page and the rest in the next?"
            ),
            "73ae443c34aefa0e28a44294a7a1bce3aa1dc2c72708b58508079d9d4bc9b62a": (
                "That would need a pipe of 16 pages; this one was resized."
            ),
        },
    ),
    "04-setpipe-5000": Question(
        "A new pipe gets fcntl(F_SETPIPE_SZ, 5000). Then non-blocking writes of 1,000 bytes "
        "go into it until EAGAIN: how many bytes fit?",
        measure=kernel.fill_1000_after_setpipe_5000,
        why=kernel.why_setpipe_then_fill,
        hints=(
            "First: what capacity does the kernel really give for 5,000?",
            "Then follow one page buffer with 1,000-byte writes.",
        ),
        mistakes={
            "3f489a5a525d7111c93c24d22e88c99829e54a0a5cecdc182f2a5874b71a1899": (
                "Does the kernel keep the size you asked for? Think in pages."
            ),
            "225a6481b4aa22e26f69329c536d1fe81e5ca59e33ecea08e39b846c36e4f4ff": (
                "That is the capacity; do 1,000-byte writes fill every page to the brim?"
            ),
            "608afa1d552ccc8b6e7d8b0f52d86f24857fb205e52b4247ee3b72e76847806c": (
                "Rounded to whole pages, is 5,000 bytes one page?"
            ),
        },
    ),
    "04-nonblocking-full": Question(
        "A pipe's read end has O_NONBLOCK set; the pipe is empty and its only write end has "
        "been closed. What does os.read(r, 100) do? Give the value it returns (a bytes "
        "object), or the name of the exception it raises.",
        measure=kernel.nonblocking_read_after_close,
        why="{answer}: with no write end left nobody can ever write again, so read() reports "
        "end of file; EAGAIN means 'nothing yet, but a writer is still there'.",
        hints=("O_NONBLOCK changes what happens when read() would wait. Would it wait here?",),
        mistakes={
            "1016531175c11f17b982c13b6a78c3c7e1910e7da595ba0d1557e9f5847e614d": (
                "EAGAIN means "
                "'try again later'. With every write end closed, can anything come later?"
            ),
            "79dc02331427b4aa5e8c704d8c890cdcc2defc65f6096b676e851161e21aa117": (
                "EAGAIN means 'try again "
                "later'. With every write end closed, can anything come later?"
            ),
            "282d35ba476ec491644607c69f0ea0fa0aa2128de451088eac9f08e9e222c508": (
                "EPIPE is what a writer gets without a reader; this is a reader without a writer."
            ),
        },
    ),
    # 05 — broken pipes
    "05-sigpipe-status": Question(
        "A C program installs a SIGPIPE handler that does nothing and returns, then writes "
        'into a pipe with no reader, and ends with `return write(fd, "x", 1) == -1 ? errno '
        ": 0;`. What exit status does Python's os.waitstatus_to_exitcode report for it? "
        "(Python's errno module has the numbers.)",
        measure=lambda: errno.EPIPE,
        why="{answer}: the handler returns, so the process is not killed; write() then fails "
        "with EPIPE, and the program exits with that errno.",
        hints=(
            "A handled signal does not kill: what does write() return afterwards?",
            "Which errno does a write without a reader set?",
        ),
        mistakes={
            "75f3de741345564cb060fdf3047776f86fb3bd493c05803f1a1eaef97d0a779c": (
                "−13 means 'killed by SIGPIPE'. Is the signal's default action still in force?"
            ),
            "897e454ad124a757fed5459f284a69b1a946246674a71331c238b8c0f8860419": (
                "13 is SIGPIPE's number; the program exits with errno. Which one?"
            ),
            "07c5d90a7d23c1eca97c0bd20deb81f3d7fb89d6047b21cad6dc2db5eed2badd": (
                "Does the write succeed without a reader?"
            ),
        },
    ),
    "05-python-exception": Question(
        "A Python script (which ignores SIGPIPE, as Python does) calls os.write(w, b'x') on a "
        "pipe whose read end is closed everywhere, and does not catch the exception. What "
        "exit status does its parent get from os.waitstatus_to_exitcode?",
        digest="73dbd1917f5660afdf3968cca5d287a6b25d9cc1970f0c6b45866c189b5ea86d",
        why="{answer}: the write raises BrokenPipeError; an uncaught exception prints a "
        "traceback and ends Python with exit status 1.",
        hints=(
            "The signal is ignored: what does the write do instead?",
            "What exit status does any uncaught Python exception give?",
        ),
        mistakes={
            "c0207a81cb5f1f0d8422bfba0de5d70d78f7f8cfe0bfb17d48f900cc3b2b2408": (
                "−13 means 'killed by SIGPIPE', but Python ignores SIGPIPE."
            ),
            "45ad5c5af5ffa99f5d63d903a7104ab153d20746577bbe418c09bb414e555274": (
                "Python does not exit with the errno of an uncaught exception."
            ),
            "03b7a8e884864fb5adca8a2355403e8216adf9513f28df5adca287403263e2cc": (
                "Does the script end normally with an uncaught exception?"
            ),
        },
    ),
    "05-read-eof": Question(
        "A parent makes a pipe and forks two children; each writes 10 bytes into it and "
        "exits. The parent never closes its own write end and calls os.read(r, 100) until it "
        "gets b''. After it has read the 20 bytes: 'a' read returns b'', 'b' read blocks "
        "for ever, 'c' read raises BrokenPipeError. Answer a, b or c.",
        digest="cb0d563482a31da8ca5da01fe0208f52998c8256d4dfb29b43c9556e1cae6042",
        kind="choice",
        why="b: end of file needs every write end closed, and the parent still holds one; "
        "the kernel cannot know it will never write.",
        hints=("List every process that holds a write end after the children exit.",),
        mistakes={
            "a0f624754a3b0de29e570991f8ac12d51f7e3932c951895a6cacadf9806ce072": (
                "Both children closed their write ends by exiting. Is that every write end?"
            ),
            "c39a57e02962d396d95b1fe0cd3f5c14e4c0d17927d862bd147e129b34b9cf50": (
                "BrokenPipeError is a writer's error (no reader); this is a reader."
            ),
        },
    ),
    # 06 — named pipes
    "06-enxio": Question(
        "A reader has a FIFO open. A writer opens it, writes b'hello', and closes it; no "
        "other writer has it open. The reader calls os.read(fd, 100) twice. What does the "
        "second call return?",
        digest="0d9847503fa2a788f1200493fc9ddb86c92aa6a8a5c289eae66e5af63378dff5",
        why="{answer}: the first read got b'hello'; with no writer left the FIFO is at "
        "end of file, like a pipe.",
        hints=(
            "What does a read on a pipe return when the pipe is empty and nobody holds "
            "a write end?",
        ),
        mistakes={
            "1bdb61268e9143140e87c498a3af2a6cfd04d870f9f005662c1a2a9bbabeec57": (
                "The first read already took those bytes: a FIFO is a stream, read once."
            ),
            "3ec25c81592b3f0a1aa4d160969fe91ff8b56916bd54fbf9b233af8089f3f69a": (
                "ENXIO is what a non-blocking writer "
                "gets when opening without a reader; this reader's open succeeded."
            ),
        },
    ),
    "06-pipe-buf": Question(
        "Two writers share one FIFO and each makes single writes of 6,000 bytes while a "
        "reader reads. Can bytes of one writer's write land between bytes of the other's? "
        "(True/False)",
        measure=kernel.writes_of_6000_may_mix,
        kind="bool",
        why="{answer}: only writes of up to PIPE_BUF bytes are atomic; a larger write may be "
        "split, and another writer's bytes may land between its parts.",
        hints=(
            "Which writes does POSIX promise never to interleave?",
            "Compare 6,000 with pipe_buf_bytes().",
        ),
        mistakes={
            "63cc380e245828b768db892bff6a104cfc1bce3da983ea1a6636296b40966a5d": (
                "One write() call is not always one atomic unit: up to what size is it?"
            )
        },
    ),
    "06-fifos-for-rpc": Question(
        "The notebook's server takes requests on FIFOs and answers each client on its own "
        "FIFO. How many FIFOs do 5 clients and the server need at least?",
        digest="1af6547b8672788b395461d9abaf671aa1906df87b0426dde359701e06984c6f",
        why="{answer}: one well-known request FIFO shared by all clients, and one reply "
        "FIFO per client (a FIFO is one-way, and replies must not mix).",
        hints=("Count the requests' FIFOs and the replies' FIFOs separately.",),
        mistakes={
            "d8ff6ea27dca6e5fdd3a82c6079472a849ce54d5ebddc68a1ea9aea47720d462": (
                "Those are the replies. Where do the requests go?"
            ),
            "304e6ba76d010ec0fce871b721c9855a64c7faa226ef2c9ac580b8c624cd3b12": (
                "Must every client have its own "
                "request FIFO, or can writes of up to PIPE_BUF share one?"
            ),
            "8f4f7581b1557f54a4dc95b78c76ef40d5228acc153c0c7250fbc42ffa5e3985": (
                "With one shared reply FIFO, which client reads which reply?"
            ),
        },
    ),
    # 07 — shared memory
    "07-lost-updates-locked": Question(
        "No lock this time: each of 4 processes adds 1 to its own slot of a shared array "
        "100,000 times (slot i for process i), and the parent sums the 4 slots after "
        "waiting for all. What is the sum?",
        digest="9a0215d2bf0a0f9dd5b1949d4d505c264639574a5f629a85c22329ad5ed624fa",
        why="{answer:,}: an update is lost only when two processes load and store the same "
        "location; here no two share a slot.",
        hints=("When exactly is an update lost?", "Do two processes ever write the same slot?"),
        mistakes={
            "bb88a7a933ede3f52ce90cd2d3617c2e724049895d03c1dcbe1c9ce294ecc8eb": (
                "That is one slot; the parent adds all four."
            ),
            "d843912076e72c05ac2ec39b898cd099fca7e3694d89e63f15ac3c79caf0e781": (
                "Shared memory is seen by all: the parent reads the children's stores."
            ),
        },
    ),
    "07-copies": Question(
        "A parent maps one page with mmap(-1, 4096, flags=MAP_PRIVATE) (not MAP_SHARED), sets "
        "byte 0 to 1 and forks; the child sets byte 0 to 2 and exits; the parent waits for "
        "it and reads byte 0. What does it read?",
        digest="839c557e12fc54d62fdb2fe044d4628a130e1c4ccd135dcd9b1477123b964524",
        why="{answer}: a private mapping is copy-on-write after fork(), like any other "
        "memory: the child's store went into its own copy of the page.",
        hints=(
            "What does MAP_PRIVATE promise about other processes' writes?",
            "Notebook 1: what happens to a page when a child writes it after fork()?",
        ),
        mistakes={
            "991529bdc059a4f7ae2512b7eacb3d4247259b538b9b8ce07e8fbf76f052e1ae": (
                "That would be MAP_SHARED. Who sees the child's store to a private page?"
            ),
            "67e71d0a29cefc84a4b1c08f0a05e24f819c14bde27e600e3381fc30d473a85a": (
                "The parent stored before fork(): whose copy is it in?"
            ),
        },
    ),
    # 08 — the shoot-out
    "08-pipe-copies": Question(
        "The shell runs `a | b | c`, where b copies its stdin to its stdout. a writes 1 MiB. "
        "How many times is each byte copied between a process and the kernel on its way "
        "to c?",
        digest="2940346c01b2aefb68ebd5c2377151767dfda3d16e0b085c5b92df6c54f91d01",
        why="{answer}: a's write copies it into the first pipe, b's read copies it out, b's "
        "write into the second pipe, c's read out: two copies per pipe.",
        hints=("How many copies does one pipe cost?", "How many pipes does the data cross?"),
        mistakes={
            "3cd4436dc42986353eaae53cee68890bb7ffccc7235da69133f1c116ce4e8ad9": (
                "That is one pipe. b reads and writes the data too."
            ),
            "01a79fc1665d9b3f9f6fc9c936eafbf5a5766190849d04118316dbb1681f0d0e": (
                "Count each system call that moves the data, in a, b and c."
            ),
            "50cf3affd11d0ffa9d040f8a13e60ecae9af1fcf8c966b2c42917d05ce8f5109": (
                "A pipe is not shared memory: read() and write() move the bytes."
            ),
        },
    ),
    "08-round-trip-syscalls": Question(
        "A 1-byte round trip over two pipes (client → server → client): at least how many "
        "system calls, counting both processes?",
        digest="2eb36cb6c2cc4b06a89f0839eb756c0da2fa9db32258d41912a22c322590982d",
        why="{answer}: the client's write and read, the server's read and write.",
        hints=(
            "List what the client does for one round trip, then what the server does.",
            "A byte crosses a pipe only through a system call on each side.",
        ),
        mistakes={
            "22933658dc9d141018259aba5f02a52c09322bda5eaceb828aeb7da39d9547c7": (
                "Does a byte reach the other process without it asking for it?"
            ),
            "f1f1ff82fd2f0171c8ebb9fe8da911d8f51ff9795ed5b95620419b725dc745ee": (
                "At least: does a process that blocks in read() need select() or poll() first?"
            ),
        },
    ),
    # 09 — the web server
    "09-apache-prefork": Question(
        "Does Apache's prefork MPM fork a new child for every request? (True/False)",
        digest="5fc11c9dde57221fef54555c70eb14963380f3c96ad77c564fddb13d2976465f",
        kind="bool",
        why="{answer}: it keeps a pool of pre-forked children that each accept and serve "
        "many connections (MaxConnectionsPerChild, 0 = unlimited).",
        hints=("When does a pre-forking server fork: before or after a request comes?",),
    ),
    "09-forks-per-request": Question(
        "The fork-per-request server serves 200 requests. How many children does it fork?",
        digest="f440d33522791fc0a4227fa42057016a8529e4ec060f41280a9c0b3bcd83c17e",
        why="{answer}: one per request — a pool of 4 would fork 4.",
        hints=("When does that server call fork()?",),
        mistakes={
            "4e94db00de5f99869bb6bef52c5228b1ba74a9a5f6022bbaa72d25e29959310f": (
                "That is the pool's count. Does this server keep a pool?"
            )
        },
    ),
}
