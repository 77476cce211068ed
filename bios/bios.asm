; bios/bios.asm - bt86's own BIOS: POST and the real-mode services.
;
; A 64 KiB image mapped at F0000 (and at the top of 4 GiB); it runs in real
; mode only. POST (codes on port 80h, see post_* below) sets up the PICs,
; PIT, RTC, keyboard controller, COM1, IVT, BDA, EBDA (4 KiB at 9F000: our
; drive table and the ACPI tables), VGA text mode 3 (our font in plane 2),
; PCI (BARs, IRQ lines through the PIIX3 PIRQ routers), option ROMs, IDE
; drives, then boots: Linux direct boot if the firmware-config port says so
; (devices/fwcfg.h), else the first hard disk's MBR, else an El Torito CD,
; else a message on screen, serial and port E9h.
; Files: video.inc (int 10h + font), disk.inc (IDE, int 13h, El Torito),
; services.inc (int 08/09/11/12/15/16/18/1A), pci.inc, acpi.inc, font.inc.
; Invariant: every service preserves the registers its interface does not
; name as outputs; handlers run with interrupts as the caller left them.
        cpu     686
        bits    16
        org     0

%define BDA_SEG         0x40
%define EBDA_SEG        0x9F00          ; 4 KiB extended BIOS data area at 9F000
%define EBDA_KB         4
%define BASE_KB         636             ; 0x9F000 / 1024
%define STACK_TOP       0x7000          ; POST stack 0000:7000

; EBDA layout (offsets in EBDA_SEG)
%define EB_SIZE         0x000           ; size in KiB (BIOS convention)
%define EB_RAMTOP       0x004           ; dword: end of RAM above 1 MiB (bytes, < 4 GiB)
%define EB_NHD          0x008           ; byte: hard disks found
%define EB_CDIDX        0x009           ; byte: drive-table index of the CD (FFh none)
%define EB_HDMAP        0x00C           ; 4 bytes: drive-table index of 80h, 81h ...
%define EB_BOOTCD       0x010           ; byte: 1 when booted from CD (drive E0h)
%define EB_INTERACTIVE  0x011           ; byte: a display is attached
%define EB_KBFLAGS      0x012           ; byte: bit0 E0 prefix seen
%define EB_LFB          0x068           ; dword: display BAR0 (0: fixed E0000000h)
%define EB_DRV          0x100           ; drive table: 4 x 32 bytes
%define EB_ACPI         0x200           ; ACPI tables (RSDP first)
%define EB_BUF          0x800           ; 2 KiB sector buffer

; drive table entry
%define D_TYPE          0               ; 0 none, 1 ATA, 2 ATAPI
%define D_SLAVE         1               ; 0 master, 10h slave (for the head register)
%define D_IO            2               ; command block base
%define D_CTL           4               ; control block port
%define D_CYL           6               ; logical CHS for int 13h
%define D_HEADS         8
%define D_SPT           10
%define D_SECTORS       12              ; qword: total sectors
%define D_LBA48         20              ; byte: supports LBA48
%define D_SIZE          32

; POST codes (port 80h)
%define post_start      0x01
%define post_pic        0x02
%define post_pit        0x03
%define post_rtc        0x04
%define post_kbd        0x05
%define post_mem        0x06
%define post_ivt        0x07
%define post_bda        0x08
%define post_serial     0x09
%define post_video      0x0A
%define post_pci        0x0B
%define post_optrom     0x0C
%define post_ide        0x0D
%define post_acpi       0x0E
%define post_boot       0x0F
%define post_linux      0x10
%define post_mbr        0x11
%define post_cd         0x12
%define post_noboot     0xEE

%macro POST 1
        mov     al, %1
        out     0x80, al
%endmacro

; ---------------------------------------------------------------- POST
post_entry:
        cli
        cld
        POST    post_start
        xor     ax, ax
        mov     ss, ax
        mov     esp, STACK_TOP
        mov     ds, ax
        mov     es, ax

        ; --- PICs: ICW1-4, vectors 08h and 70h, all masked for now
        POST    post_pic
        mov     al, 0x11
        out     0x20, al
        out     0xA0, al
        mov     al, 0x08
        out     0x21, al
        mov     al, 0x70
        out     0xA1, al
        mov     al, 0x04
        out     0x21, al
        mov     al, 0x02
        out     0xA1, al
        mov     al, 0x01
        out     0x21, al
        out     0xA1, al
        mov     al, 0xFF
        out     0x21, al
        out     0xA1, al
        ; ELCR: IRQ 9 (SCI), 10 and 11 (PCI) level triggered
        xor     al, al
        mov     dx, 0x4D0
        out     dx, al
        mov     al, 0x0E
        inc     dx
        out     dx, al

        ; --- PIT channel 0: mode 3, divisor 65536 (18.2 Hz)
        POST    post_pit
        mov     al, 0x36
        out     0x43, al
        xor     al, al
        out     0x40, al
        out     0x40, al

        ; --- shadow RAM (i440FX PAM, Intel 82441FX datasheet, 59h-5Fh): this
        ; BIOS copied into the RAM behind F0000-FFFFF and read from there,
        ; write-protected, as PC BIOSes do (C0000-EFFFF after the option
        ; ROMs: shadow_c0000). Guests scan these areas (Linux: DMI, MP and
        ; ACPI tables, 16 bytes at a time); RAM reads are cheap in every
        ; engine, where ROM and open-bus reads take the device path.
        mov     di, 0x59
        mov     si, 1
        mov     cl, 0x20                ; PAM0 F0000: writes to RAM, reads ROM
        mov     ax, 0xF000
        mov     dx, 1
        call    shadow_copy
        ; --- RTC: 24-hour BCD, periodic interrupt off
        POST    post_rtc
        mov     ax, 0x0A26
        call    cmos_write
        mov     al, 0x0B
        call    cmos_read
        and     al, 0x01                ; keep DSE; BCD, no PIE/AIE/UIE/SQWE, SET off
        or      al, 0x02                ; 24-hour
        mov     ah, al
        mov     al, 0x0B
        call    cmos_write_ah_idx       ; (AL = index, AH = value)

        ; --- memory size from CMOS
        POST    post_mem
        call    mem_size                ; EAX = RAM top (bytes)
        mov     bx, EBDA_SEG
        mov     es, bx
        ; clear the EBDA
        xor     di, di
        push    eax
        xor     eax, eax
        mov     cx, EBDA_KB * 256
        rep     stosd
        pop     eax
        mov     [es:EB_RAMTOP], eax
        mov     byte [es:EB_SIZE], EBDA_KB
        mov     byte [es:EB_CDIDX], 0xFF

        ; --- IVT: everything to a default iret, hardware IRQs to EOI stubs
        POST    post_ivt
        xor     ax, ax
        mov     es, ax
        xor     di, di
        mov     cx, 256
.ivt:   mov     ax, int_default
        stosw
        mov     ax, cs
        stosw
        loop    .ivt
        mov     di, 0x08 * 4
        mov     cx, 8
.ivtm:  mov     word [es:di], irq_master_default
        add     di, 4
        loop    .ivtm
        mov     di, 0x70 * 4
        mov     cx, 8
.ivts:  mov     word [es:di], irq_slave_default
        add     di, 4
        loop    .ivts
        mov     si, vector_table
.vt:    cs lodsw
        cmp     ax, 0xFFFF
        je      .vtdone
        mov     di, ax
        shl     di, 2
        cs lodsw
        mov     [es:di], ax
        mov     [es:di + 2], cs
        jmp     .vt
.vtdone:
        ; int 1Eh (diskette parameters) and 41h/46h stay default; 1Fh/43h font pointers
        mov     word [es:0x43 * 4], font8x16
        mov     word [es:0x1F * 4], font8x16 + 128 * 16

        ; --- BDA
        POST    post_bda
        mov     ax, BDA_SEG
        mov     es, ax
        xor     di, di
        xor     ax, ax
        mov     cx, 128
        rep     stosw                   ; 0400-04FF
        mov     word [es:0x00], 0x3F8   ; COM1
        mov     word [es:0x0E], EBDA_SEG
        mov     word [es:0x10], 0x0122  ; 1 serial port, 80x25 colour, FPU
        mov     word [es:0x13], BASE_KB
        mov     word [es:0x1A], 0x1E    ; keyboard buffer head/tail/start/end
        mov     word [es:0x1C], 0x1E
        mov     word [es:0x80], 0x1E
        mov     word [es:0x82], 0x3E
        mov     byte [es:0x96], 0x10    ; 101/102-key keyboard
        call    ticks_from_rtc

        ; --- COM1: 115200 8N1, FIFOs on
        POST    post_serial
        mov     dx, 0x3FB
        mov     al, 0x80
        out     dx, al
        mov     dx, 0x3F8
        mov     al, 1
        out     dx, al
        inc     dx
        xor     al, al
        out     dx, al
        mov     dx, 0x3FB
        mov     al, 0x03
        out     dx, al
        mov     dx, 0x3FA
        mov     al, 0xC7
        out     dx, al
        mov     dx, 0x3FC
        mov     al, 0x03
        out     dx, al

        ; --- keyboard controller: self-test, interface test, command byte, keyboard reset
        POST    post_kbd
        call    kbd_init

        ; --- video: text mode 3 through our int 10h
        POST    post_video
        mov     ax, 0x0003
        int     0x10
        mov     si, msg_banner
        call    print

        ; --- PCI
        POST    post_pci
        call    pci_init

        ; --- option ROMs
        POST    post_optrom
        call    optrom_scan
        ; C0000-EFFFF (option ROMs, open bus) into shadow RAM too: what
        ; reads saw before, read from RAM now, write-protected
        mov     di, 0x5A
        mov     si, 6
        mov     cl, 0x22                ; PAM1-6: writes to RAM, reads ROM
        mov     ax, 0xC000
        mov     dx, 3
        call    shadow_copy

        ; --- IDE drives
        POST    post_ide
        call    ide_detect

        ; --- ACPI tables
        POST    post_acpi
        call    acpi_build

        ; interrupts on: timer, keyboard, cascade; RTC on the slave
        in      al, 0x21
        and     al, 0xF8
        out     0x21, al
        in      al, 0xA1
        and     al, 0xFE
        out     0xA1, al
        sti
        call    print_memory
        int     0x19
        ; int 19h never returns
        jmp     boot_failed

; CMOS helpers: cmos_read AL=index -> AL; cmos_write AH=index AL=value
cmos_read:
        or      al, 0x80                ; keep NMI masked while we work
        out     0x70, al
        in      al, 0x71
        ret
cmos_write:
        xchg    al, ah
        or      al, 0x80
        out     0x70, al
        xchg    al, ah
        out     0x71, al
        ret
cmos_write_ah_idx:                      ; AL = index, AH = value
        or      al, 0x80
        out     0x70, al
        mov     al, ah
        out     0x71, al
        ret

; EAX = top of RAM in bytes, from CMOS 30h/31h (KiB above 1 MiB) and 34h/35h (64 KiB above 16 MiB)
mem_size:
        push    ebx
        mov     al, 0x35
        call    cmos_read
        mov     ah, al
        mov     al, 0x34
        call    cmos_read
        movzx   eax, ax
        test    eax, eax
        jz      .small
        shl     eax, 16
        add     eax, 16 << 20
        jmp     .done
.small: mov     al, 0x31
        call    cmos_read
        mov     ah, al
        mov     al, 0x30
        call    cmos_read
        movzx   eax, ax
        shl     eax, 10
        add     eax, 1 << 20
.done:  pop     ebx
        ret

; print the RAM size: "Memory: N MiB"
print_memory:
        push    es
        mov     ax, EBDA_SEG
        mov     es, ax
        mov     eax, [es:EB_RAMTOP]
        pop     es
        shr     eax, 20
        mov     si, msg_mem
        call    print
        call    print_dec
        mov     si, msg_mib
        call    print
        ret

; keyboard controller init (8042): self-test 55h, interface test 00h,
; command byte 61h (translate, system flag, IRQ1), keyboard reset + enable
kbd_init:
        call    kbd_flush
        mov     al, 0xAA
        call    kbd_cmd
        call    kbd_read
        cmp     al, 0x55
        je      .st_ok
        mov     si, msg_kbd_fail
        call    print
.st_ok: mov     al, 0xAB
        call    kbd_cmd
        call    kbd_read
        mov     al, 0x60
        call    kbd_cmd
        mov     al, 0x61
        call    kbd_data
        mov     al, 0xAE                ; enable keyboard interface
        call    kbd_cmd
        mov     al, 0xFF                ; keyboard reset: FA AA
        call    kbd_data
        call    kbd_read
        call    kbd_read
        mov     al, 0xF4                ; enable scanning: FA
        call    kbd_data
        call    kbd_read
        call    kbd_flush
        ret
kbd_wait_in:                            ; wait until the input buffer is empty
        push    cx
        mov     cx, 0xFFFF
.w:     in      al, 0x64
        test    al, 2
        jz      .ok
        loop    .w
.ok:    pop     cx
        ret
kbd_cmd:
        push    ax
        call    kbd_wait_in
        pop     ax
        out     0x64, al
        ret
kbd_data:
        push    ax
        call    kbd_wait_in
        pop     ax
        out     0x60, al
        ret
kbd_read:                               ; AL = byte, or FFh after a timeout
        push    cx
        mov     cx, 0xFFFF
.w:     in      al, 0x64
        test    al, 1
        jnz     .got
        loop    .w
        pop     cx
        mov     al, 0xFF
        ret
.got:   in      al, 0x60
        pop     cx
        ret
kbd_flush:
        push    cx
        mov     cx, 64
.f:     in      al, 0x64
        test    al, 1
        jz      .done
        in      al, 0x60
        loop    .f
.done:  pop     cx
        ret

; option ROMs at C0000-DFFFF in 2 KiB steps: 55AA, length, checksum, far call +3
optrom_scan:
        push    es
        mov     bx, 0xC000
.next:  mov     es, bx
        cmp     word [es:0], 0xAA55
        jne     .skip
        movzx   cx, byte [es:2]
        test    cx, cx
        jz      .skip
        shl     cx, 9
        xor     si, si
        xor     al, al
.sum:   add     al, [es:si]
        inc     si
        loop    .sum
        test    al, al
        jnz     .skip
        pusha
        push    ds
        push    es
        push    cs
        push    word .back
        push    bx
        push    word 3
        retf
.back:  pop     es
        pop     ds
        popa
        movzx   ax, byte [es:2]
        shl     ax, 5                   ; 512-byte units -> paragraphs
        add     ax, 0x7F
        and     ax, 0xFF80
        add     bx, ax
        jmp     .chk
.skip:  add     bx, 0x80
.chk:   cmp     bx, 0xE000
        jb      .next
        pop     es
        ret

; shadow_copy: the SI PAM registers from DI get CL (write-enable: writes
; go to RAM, reads still to ROM or open bus); the DX 64 KiB segments from
; AX are copied onto themselves; then the registers get CL >> 1
; (read-enable only: reads from RAM, writes dropped)
shadow_copy:
        pushad
        push    ds
        push    es
        cld
        xor     bx, bx                  ; bus 0, device 0: the host bridge
        mov     bp, cx
        push    di
        push    si
.we:    mov     cx, bp
        call    pci_write8
        inc     di
        dec     si
        jnz     .we
.seg:   mov     ds, ax
        mov     es, ax
        xor     si, si
        xor     di, di
        mov     cx, 0x4000
        rep     movsd
        add     ax, 0x1000
        dec     dx
        jnz     .seg
        pop     si
        pop     di
        mov     cx, bp
        shr     cl, 1
.re:    call    pci_write8
        inc     di
        dec     si
        jnz     .re
        pop     es
        pop     ds
        popad
        ret

; ---------------------------------------------------------------- text output
; print: CS:SI NUL-terminated string to screen, COM1 (via int 10h 0Eh) and port E9h
print:
        push    ax
        push    si
.l:     cs lodsb
        test    al, al
        jz      .d
        call    putc
        jmp     .l
.d:     pop     si
        pop     ax
        ret
putc:                                   ; AL to screen + COM1 + E9h (LF -> CR LF)
        push    ax
        push    bx
        cmp     al, 10
        jne     .n
        mov     al, 13
        call    serial_putc
        mov     ah, 0x0E
        mov     bx, 0x0007
        int     0x10
        mov     al, 10
.n:     out     0xE9, al
        call    serial_putc
        mov     ah, 0x0E
        mov     bx, 0x0007
        int     0x10
        pop     bx
        pop     ax
        ret
; print EAX in decimal
print_dec:
        push    eax
        push    ebx
        push    ecx
        push    edx
        mov     ebx, 10
        xor     cx, cx
.d:     xor     edx, edx
        div     ebx
        push    dx
        inc     cx
        test    eax, eax
        jnz     .d
.p:     pop     ax
        add     al, '0'
        call    putc
        loop    .p
        pop     edx
        pop     ecx
        pop     ebx
        pop     eax
        ret
; print AL as two hex digits
print_hex8:
        push    ax
        push    ax
        shr     al, 4
        call    .nib
        pop     ax
        call    .nib
        pop     ax
        ret
.nib:   and     al, 15
        add     al, '0'
        cmp     al, '9'
        jbe     .o
        add     al, 7
.o:     jmp     putc

; serial_putc: AL to COM1 (waits for THRE, bounded)
serial_putc:
        push    dx
        push    cx
        push    ax
        mov     dx, 0x3FD
        mov     cx, 0xFFFF
.w:     in      al, dx
        test    al, 0x20
        jnz     .ok
        loop    .w
.ok:    pop     ax
        mov     dx, 0x3F8
        out     dx, al
        pop     cx
        pop     dx
        ret

; ---------------------------------------------------------------- interrupts
int_default:
        iret
irq_master_default:
        push    ax
        mov     al, 0x20
        out     0x20, al
        pop     ax
        iret
irq_slave_default:
        push    ax
        mov     al, 0x20
        out     0xA0, al
        out     0x20, al
        pop     ax
        iret

; the services (vector, handler), FFFFh-terminated
vector_table:
        dw      0x08, int08_handler
        dw      0x09, int09_handler
        dw      0x10, int10_handler
        dw      0x11, int11_handler
        dw      0x12, int12_handler
        dw      0x13, int13_handler
        dw      0x15, int15_handler
        dw      0x16, int16_handler
        dw      0x18, int18_handler
        dw      0x19, int19_handler
        dw      0x1A, int1a_handler
        dw      0x70, int70_handler
        dw      0xFFFF

; ---------------------------------------------------------------- boot (int 19h)
int19_handler:
        sti
        cld
        xor     ax, ax
        mov     ss, ax
        mov     sp, STACK_TOP
        POST    post_boot
        ; Linux direct boot? fwcfg item 10h: u16 enable, u16 segment, u16 SP
        mov     ax, 0x10
        call    fwcfg_select
        call    fwcfg_read16
        test    ax, ax
        jz      .disks
        call    fwcfg_read16
        mov     bx, ax
        call    fwcfg_read16
        mov     cx, ax
        POST    post_linux
        mov     si, msg_linux
        call    print
        cli
        mov     ds, bx
        mov     es, bx
        mov     fs, bx
        mov     gs, bx
        mov     ss, bx
        mov     sp, cx
        add     bx, 0x20
        push    bx
        push    word 0
        retf
.disks:
        ; first hard disk: MBR
        push    ds
        mov     ax, EBDA_SEG
        mov     ds, ax
        mov     al, [EB_NHD]
        pop     ds
        test    al, al
        jz      .cd
        POST    post_mbr
        mov     si, msg_boot_hd
        call    print
        xor     ax, ax
        mov     es, ax
        mov     bx, 0x7C00
        mov     word [es:0x7DFE], 0
        mov     ax, 0x0201
        mov     cx, 0x0001
        mov     dx, 0x0080
        int     0x13
        jc      .hd_err
        cmp     word [es:0x7DFE], 0xAA55
        jne     .hd_nosig
        xor     ax, ax
        mov     ds, ax
        mov     dl, 0x80
        xor     bx, bx
        xor     si, si
        xor     di, di
        jmp     0x0000:0x7C00
.hd_err:
        mov     si, msg_hd_err
        call    print
        jmp     .cd
.hd_nosig:
        mov     si, msg_hd_nosig
        call    print
.cd:
        POST    post_cd
        call    cd_boot                 ; returns only on failure
        ; nothing bootable
        jmp     boot_failed

boot_failed:
        POST    post_noboot
        mov     si, msg_noboot
        call    print
        push    ds
        mov     ax, EBDA_SEG
        mov     ds, ax
        mov     al, [EB_INTERACTIVE]
        pop     ds
        test    al, al
        jz      .halt
        mov     si, msg_presskey
        call    print
        xor     ah, ah
        int     0x16
        int     0x19
.halt:  mov     si, msg_halt
        call    print
        cli
.h:     hlt
        jmp     .h

int18_handler:
        jmp     boot_failed

; firmware configuration ports (devices/fwcfg.h; not QEMU's 510h/511h)
FWCFG_SEL       equ     0x520
FWCFG_DATA      equ     0x521
fwcfg_select:                           ; AX = key
        push    dx
        mov     dx, FWCFG_SEL
        out     dx, ax
        pop     dx
        ret
fwcfg_read16:
        push    dx
        mov     dx, FWCFG_DATA
        in      ax, dx
        pop     dx
        ret
fwcfg_read32:
        push    dx
        mov     dx, FWCFG_DATA
        in      eax, dx
        pop     dx
        ret

%include "video.inc"
%include "services.inc"
%include "disk.inc"
%include "pci.inc"
%include "acpi.inc"

; ---------------------------------------------------------------- messages
msg_banner:     db      "bt86 BIOS (c) the bt86 authors", 10, 0
msg_mem:        db      "Memory: ", 0
msg_mib:        db      " MiB", 10, 0
msg_kbd_fail:   db      "Keyboard controller self-test failed", 10, 0
msg_linux:      db      "Booting Linux (direct kernel boot)", 10, 0
msg_boot_hd:    db      "Booting from hard disk...", 10, 0
msg_hd_err:     db      "Boot failed: could not read the boot sector of hard disk 80h", 10, 0
msg_hd_nosig:   db      "Boot failed: hard disk 80h has no boot signature (55AA)", 10, 0
msg_noboot:     db      "No bootable device found (tried: hard disk, CD-ROM).", 10, 0
msg_presskey:   db      "Press a key to try again.", 10, 0
msg_halt:       db      "System halted.", 10, 0

%include "font.inc"

; ---------------------------------------------------------------- fixed tail
        times   0xFFF0 - ($ - $$) db 0xFF
reset_vector:
        jmp     0xF000:post_entry
        db      "11/23/26"              ; BIOS date at F000:FFF5
        db      0
        db      0xFC                    ; model byte at F000:FFFE (AT)
        db      0
