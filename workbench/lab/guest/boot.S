/* The lab's virtio test guest: 32-bit multiboot entry (workbench/lab/guest.py builds it).
 *
 * The header uses the a.out kludge (flag 16), as Solo5's virtio kernels do: QEMU then loads
 * the file by the addresses below and ignores its ELF headers, so the ELF64 container that
 * carries the Solo5 notes can hold 32-bit code. FILE_START is where byte 0 of the file lands
 * (the ELF's PT_LOAD maps offset 0 there too). The file's tail (notes, section headers) lands
 * where .bss is, which QEMU and then _start zero. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS ((1 << 1) | (1 << 16)) /* memory info; load by the header's addresses */

	.section .multiboot, "ax"
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header         /* header_addr */
	.long FILE_START        /* load_addr: the whole file, from its first byte */
	.long 0                 /* load_end_addr: to the end of the file */
	.long _end              /* bss_end_addr: QEMU puts its boot info after this */
	.long _start            /* entry_addr */

	.text
	.globl _start
_start:
	cli
	mov $stack_top, %esp
	mov %eax, %esi          /* multiboot magic */
	mov %ebx, %edi          /* multiboot info */
	mov $__bss_start, %eax
1:	cmp $_end, %eax
	jae 2f
	movb $0, (%eax)
	inc %eax
	jmp 1b
2:	push %edi
	push %esi
	call kmain
3:	cli
	hlt
	jmp 3b

	.bss
	.align 16
	.space 16384
stack_top:
