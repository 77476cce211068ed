; tests/cpu/board.asm - the wired PC board seen from a guest in real mode:
; PIT channel 0 -> IRQ0 -> master PIC -> int 08h; RTC/CMOS memory size;
; COM1 16550 loopback; PCI host bridge and PIIX3 IDs by mechanism #1;
; A20 through port 92h; the i8042 self-test.
%include "lib.inc"
%include "pic.inc"

entry:
        START
        ; IVT[8] -> irq0 handler (0xF000:irq0)
        mov     word [8*4], irq0
        mov     word [8*4+2], 0xF000
        mov     dword [0x600], 0            ; tick counter
        PIC_INIT 0x08, 0x70, 0xFE, 0xFF     ; vectors 08h / 70h, unmask IRQ0 only
        ; PIT channel 0, mode 2, divisor 1193 (~1 kHz)
        mov     al, 0x34
        out     0x43, al
        mov     ax, 1193
        out     0x40, al
        mov     al, ah
        out     0x40, al
        sti
.wait:  hlt                                 ; woken by IRQ0
        cmp     dword [0x600], 5
        jb      .wait
        cli
        cmp     dword [0x600], 5
        CHECK   "pit-irq0-through-pic", ae
        ; CMOS 0x30/0x31: extended memory in KiB (capped at 0xFFFF) - -m 64 -> 63 MiB
        mov     al, 0x31
        out     0x70, al
        in      al, 0x71
        mov     ah, al
        mov     al, 0x30
        out     0x70, al
        in      al, 0x71
        EXPECT16 "cmos-extended-memory", ax, (63*1024) & 0xFFFF
        ; CMOS status register A: 32.768 kHz time base (0x26 after reset)
        mov     al, 0x0A
        out     0x70, al
        in      al, 0x71
        and     al, 0x70
        cmp     al, 0x20
        CHECK   "rtc-register-a", e
        ; COM1 loopback: MCR bit 4, send 0x5A, read it back
        mov     dx, 0x3FC
        mov     al, 0x10
        out     dx, al
        mov     dx, 0x3F8
        mov     al, 0x5A
        out     dx, al
        mov     dx, 0x3FD
        in      al, dx
        test    al, 1
        CHECK   "uart-loopback-data-ready", nz
        mov     dx, 0x3F8
        in      al, dx
        cmp     al, 0x5A
        CHECK   "uart-loopback-byte", e
        ; PCI: host bridge 00:00.0 = 8086:1237, PIIX3 00:01.0 = 8086:7000
        mov     dx, 0xCF8
        mov     eax, 0x80000000
        out     dx, eax
        mov     dx, 0xCFC
        in      eax, dx
        EXPECT32 "pci-host-bridge-id", eax, 0x12378086
        mov     dx, 0xCF8
        mov     eax, 0x80000800
        out     dx, eax
        mov     dx, 0xCFC
        in      eax, dx
        EXPECT32 "pci-piix3-id", eax, 0x70008086
        ; the VGA at 00:02.0 = 1234:1111; BAR0 sizes as 16 MiB prefetchable memory
        mov     dx, 0xCF8
        mov     eax, 0x80001000
        out     dx, eax
        mov     dx, 0xCFC
        in      eax, dx
        EXPECT32 "pci-vga-id", eax, 0x11111234
        mov     dx, 0xCF8
        mov     eax, 0x80001010
        out     dx, eax
        mov     dx, 0xCFC
        mov     eax, 0xFFFFFFFF
        out     dx, eax
        in      eax, dx
        EXPECT32 "pci-vga-bar0-size", eax, 0xFF000008
        ; A20 via port 92h: with A20 off, 0x100000 aliases 0
        in      al, 0x92
        or      al, 2
        out     0x92, al                    ; on
        ; i8042 self-test
        mov     al, 0xAA
        out     0x64, al
.kw:    in      al, 0x64
        test    al, 1
        jz      .kw
        in      al, 0x60
        cmp     al, 0x55
        CHECK   "i8042-self-test", e
        jmp     finish

irq0:
        push    ax
        inc     dword [0x600]
        mov     al, 0x20
        out     0x20, al
        pop     ax
        iret

        RESET_VECTOR
