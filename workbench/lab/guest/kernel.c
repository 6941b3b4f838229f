/* The lab's virtio test guest: what a Solo5 virtio unikernel shows QEMU and its console, in
 * a few hundred bytes of freestanding C (no Solo5 code; see docs/DOUBLES.md).
 *
 * It prints a Solo5-shaped banner and memory map on COM1, lists the virtio PCI devices with
 * the MAC QEMU gave each net device, prints its command line, then per its arguments:
 *   --log=WORD    prints "[application] WORD" (a line a log health check can match)
 *   --exit=N      ends at once: "Solo5: solo5_exit(N) called", then the isa-debug-exit write
 *                 every Solo5 virtio exit makes (41 to port 0x501: QEMU exits 83)
 *   --abort       "Solo5: solo5_abort() called", then the same exit
 * and otherwise idles (halted) until QEMU is stopped. Boot arguments are the words after the
 * first of the multiboot command line (QEMU puts the kernel's file name first), after any
 * built in (BUILTIN_ARGS: the lab makes a guest that always crashes that way). */

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3f8

static void putc(char c)
{
    if (c == '\n')
        putc('\r');
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (u8)c);
}

static void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static void putn(const char *s, u32 n)
{
    while (n-- && *s)
        putc(*s++);
}

static void puthex(u32 v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        putc(hex[(v >> (i * 4)) & 0xf]);
}

static void putdec(int v)
{
    char buf[12];
    int i = 0;
    u32 u = v < 0 ? (u32)-v : (u32)v;
    if (v < 0)
        putc('-');
    do {
        buf[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (i)
        putc(buf[--i]);
}

static int starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

static int atoi(const char *s)
{
    int sign = 1, v = 0;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return sign * v;
}

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* divisor latch */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xc7);
}

static u32 pci_read(u32 dev, u32 reg)
{
    outl(0xcf8, 0x80000000u | (dev << 11) | reg);
    return inl(0xcfc);
}

/* Legacy virtio PCI devices on bus 0, in slot order, as the bindings list them. */
static void pci_scan(void)
{
    for (u32 dev = 0; dev < 32; dev++) {
        u32 id = pci_read(dev, 0);
        if ((id & 0xffff) != 0x1af4)
            continue;
        u32 subsys = pci_read(dev, 0x2c) >> 16;
        u32 base = pci_read(dev, 0x10) & ~3u;
        u32 irq = pci_read(dev, 0x3c) & 0xff;
        const char *kind = subsys == 1 ? "virtio-net" : subsys == 2 ? "virtio-block" : 0;
        if (!kind)
            continue;
        puts("Solo5: PCI:00:");
        puthex(dev, 2);
        puts(": ");
        puts(kind);
        puts(" device, base=0x");
        puthex(base, 4);
        puts(", irq=");
        putdec((int)irq);
        puts("\n");
        if (subsys != 1)
            continue;
        outl(0xcf8, 0x80000000u | (dev << 11) | 0x04); /* enable I/O space */
        outl(0xcfc, pci_read(dev, 0x04) | 1);
        puts("Solo5: PCI:00:");
        puthex(dev, 2);
        puts(": configured, mac=");
        for (int i = 0; i < 6; i++) { /* legacy virtio-net config starts at base + 20 */
            puthex(inb((u16)(base + 20 + i)), 2);
            if (i < 5)
                putc(':');
        }
        puts("\n");
    }
}

static void power_off(int status, int aborted)
{
    if (aborted)
        puts("Solo5: solo5_abort() called\n");
    else {
        puts("Solo5: solo5_exit(");
        putdec(status);
        puts(") called\n");
    }
    outw(0x501, 41); /* isa-debug-exit: QEMU exits (41 << 1) | 1 = 83 whatever the status */
}

#ifndef BUILTIN_ARGS
#define BUILTIN_ARGS ""
#endif

/* Act on each word; returns after an exit was asked for. */
static int run_args(const char *w)
{
    while (*w) {
        u32 n = 0;
        while (w[n] && w[n] != ' ')
            n++;
        if (starts(w, "--log=")) {
            puts("[application] ");
            putn(w + 6, n - 6);
            puts("\n");
        } else if (starts(w, "--exit=")) {
            power_off(atoi(w + 7), 0);
            return 1;
        } else if (starts(w, "--abort") && n == 7) {
            power_off(255, 1);
            return 1;
        }
        w += n;
        while (*w == ' ')
            w++;
    }
    return 0;
}

struct multiboot_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

extern char __text_start[], __text_end[], __data_end[], _end[];

void kmain(u32 magic, struct multiboot_info *mbi)
{
    serial_init();
    puts("            |      ___|\n");
    puts("  __|  _ \\  |  _ \\ __ \\\n");
    puts("\\__ \\ (   | | (   |  ) |\n");
    puts("____/\\___/ _|\\___/____/\n");
    puts("Solo5: Bindings version v0.12.1 (workbench lab test guest)\n");
    if (magic != 0x2BADB002) {
        puts("Solo5: ABORT: not started by a multiboot loader\n");
        power_off(255, 1);
        return;
    }
    u32 mem_kb = (mbi->flags & 1) ? mbi->mem_upper + 1024 : 0;
    puts("Solo5: Memory map: ");
    putdec((int)(mem_kb / 1024));
    puts(" MB addressable:\n");
    puts("Solo5:   reserved @ (0x0 - 0xfffff)\n");
    puts("Solo5:       text @ (0x");
    puthex((u32)__text_start, 6);
    puts(" - 0x");
    puthex((u32)__text_end - 1, 6);
    puts(")\nSolo5:       data @ (0x");
    puthex((u32)__text_end, 6);
    puts(" - 0x");
    puthex((u32)_end - 1, 6);
    puts(")\nSolo5:       heap >= 0x");
    puthex((u32)_end, 6);
    puts(" < stack < 0x");
    puthex(mem_kb * 1024, 8);
    puts("\n");
    puts("Solo5: Clock source: none (workbench lab test guest)\n");
    pci_scan();

    const char *args = "";
    if (mbi->flags & 4) {
        args = (const char *)mbi->cmdline;
        while (*args && *args != ' ') /* QEMU puts the kernel's name first */
            args++;
        if (*args == ' ')
            args++;
    }
    puts("\n**** workbench lab test guest ****\n\n");
    puts("Command line is: '");
    puts(args);
    puts("'\n");

    if (run_args(BUILTIN_ARGS) || run_args(args))
        return;
    puts("[application] idle: stop me with systemctl stop\n");
}
