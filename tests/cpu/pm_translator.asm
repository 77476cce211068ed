; tests/cpu/pm_translator.asm - what a binary translator can get wrong
; (multiboot kernel, every engine): an instruction that crosses a page
; boundary when the second page is remapped (INVLPG, MOV CR3) or rewritten,
; chained jumps into another page or a crossing block on global pages, then
; remapped by INVLPG, POPF and STI with an interrupt waiting, MOV DS
; reloading a selector (entry changed, DS loaded otherwise, LGDT), BTx
; with a register bit offset on memory,
; INVLPG of one address of a 4 MiB page dropping all of it, and a hot loop
; of conditional branches (superblocks) with exits on either side.
; Each is run several times first, so bt has translated and cached it.
%include "kernel.inc"
%include "pic.inc"

%define PD      0x00200000                  ; page directory
%define PT      0x00201000                  ; page table for 0x00400000-0x007FFFFF
%define PAGE_A  0x00300000                  ; code page: linear 0x00400000
%define PAGE_B1 0x00301000                  ; linear 0x00401000, first
%define PAGE_B2 0x00302000                  ; ... and after the remap
%define PAGE_C1 0x00303000                  ; linear 0x00403000, first
%define PAGE_C2 0x00304000                  ; ... and after the remap
%define IRQ_COUNT 0x00280000                ; (data away from the code pages)
%define GDT2    0x00290000                  ; GDTs for the MOV Sreg checks
%define GDT3    0x00291000
%define BT_BUF  0x00292100                  ; BTx operand (bits reach +-)

kstart:
        mov     esp, 0x0009F000
        lgdt    [gdt_desc]
        jmp     0x08:.cs
.cs:    mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        ; page A ends with nops and "mov eax, imm32" whose opcode and first
        ; two immediate bytes are in A, the last two and a RET in B
        mov     edi, PAGE_A
        mov     ecx, 4096
        mov     al, 0x90
        rep     stosb
        mov     byte [PAGE_A + 0xFFD], 0xB8
        mov     word [PAGE_A + 0xFFE], 0x2211
        mov     dword [PAGE_B1], 0x00C34433         ; 33 44 C3
        mov     dword [PAGE_B2], 0x00C36655         ; 55 66 C3
        ; paging: 0-4 MiB one 4 MiB page (PSE), 0x400000 -> A, 0x401000 -> B1,
        ; 0x800000 -> a 4 MiB page at 0x800000 or 0xC00000
        mov     edi, PD
        xor     eax, eax
        mov     ecx, 2 * 1024
        rep     stosd
        mov     dword [PD + 0], 0x00000083
        mov     dword [PD + 4], PT + 3
        mov     dword [PD + 8], 0x00800083
        mov     dword [PT + 0], PAGE_A + 3
        mov     dword [PT + 4], PAGE_B1 + 3
        mov     dword [0x00800000 + 0x1000], 0x11111111
        mov     dword [0x00800000 + 0x3FF000], 0x22222222
        mov     dword [0x00C00000 + 0x1000], 0x33333333
        mov     dword [0x00C00000 + 0x3FF000], 0x44444444
        PSE_PAGING_ON PD
        ; ---- a page-crossing instruction
        mov     ecx, 5
.x1:    call    0x00400FF0
        loop    .x1
        EXPECT32 "cross-page-insn", eax, 0x44332211
        mov     dword [PT + 4], PAGE_B2 + 3         ; the second page remapped
        invlpg  [0x00401000]
        mov     ecx, 5
.x2:    call    0x00400FF0
        loop    .x2
        EXPECT32 "cross-page-remap-invlpg", eax, 0x66552211
        mov     byte [0x00401000], 0x77             ; its bytes rewritten
        mov     ecx, 5
.x3:    call    0x00400FF0
        loop    .x3
        EXPECT32 "cross-page-smc", eax, 0x66772211
        mov     dword [PT + 4], PAGE_B1 + 3         ; back, by a CR3 load
        mov     eax, cr3
        mov     cr3, eax
        mov     ecx, 5
.x4:    call    0x00400FF0
        loop    .x4
        EXPECT32 "cross-page-remap-cr3", eax, 0x44332211
        ; the same with global translations (CR4.PGE): a chained jump from
        ; inside page A into the crossing block (jmp at 0x400FE0), then the
        ; second page remapped by INVLPG, which must drop the block
        mov     word [PAGE_A + 0xFE0], 0x0EEB               ; jmp 0x400FF0
        mov     dword [PT + 0], PAGE_A + 0x103
        mov     dword [PT + 4], PAGE_B1 + 0x103
        mov     eax, cr4
        or      eax, 0x80
        mov     cr4, eax
        mov     ecx, 5
.x5:    call    0x00400FE0
        loop    .x5
        EXPECT32 "cross-page-global-chained", eax, 0x44332211
        mov     dword [PT + 4], PAGE_B2 + 0x103
        invlpg  [0x00401000]
        mov     ecx, 5
.x6:    call    0x00400FE0
        loop    .x6
        EXPECT32 "cross-page-global-invlpg", eax, 0x66772211
        ; a direct call into another page, chained (its translation is
        ; global), then that page remapped by INVLPG: the same call site
        ; must reach the new frame
        mov     byte [PAGE_C1], 0xB8                ; mov eax, 0x11111111; ret
        mov     dword [PAGE_C1 + 1], 0x11111111
        mov     byte [PAGE_C1 + 5], 0xC3
        mov     byte [PAGE_C2], 0xB8                ; mov eax, 0x22222222; ret
        mov     dword [PAGE_C2 + 1], 0x22222222
        mov     byte [PAGE_C2 + 5], 0xC3
        mov     dword [PT + 12], PAGE_C1 + 0x103
        invlpg  [0x00403000]
        mov     ecx, 5
.x7:    call    call_c
        loop    .x7
        EXPECT32 "cross-page-call-global", eax, 0x11111111
        mov     dword [PT + 12], PAGE_C2 + 0x103
        invlpg  [0x00403000]
        mov     ecx, 5
.x8:    call    call_c
        loop    .x8
        EXPECT32 "cross-page-call-global-invlpg", eax, 0x22222222
        mov     eax, cr4
        and     eax, ~0x80
        mov     cr4, eax

        ; ---- INVLPG of one address of a 4 MiB page drops all of it
        mov     ecx, 5
.l1:    mov     eax, [0x00801000]
        mov     ebx, [0x00BFF000]
        loop    .l1
        EXPECT32 "large-page-first", eax, 0x11111111
        EXPECT32 "large-page-last", ebx, 0x22222222
        mov     dword [PD + 8], 0x00C00083
        invlpg  [0x00801000]
        mov     ecx, 5
.l2:    mov     eax, [0x00801000]
        mov     ebx, [0x00BFF000]
        loop    .l2
        EXPECT32 "large-page-invlpg-first", eax, 0x33333333
        EXPECT32 "large-page-invlpg-last", ebx, 0x44444444

        ; ---- string instructions that stop part way: REP MOVSD into a page
        ; that is not present (the #PF handler maps it), MOVSW and REP STOSB
        ; likewise, and REP MOVSB backwards (DF=1)
        mov     eax, pf_handler
        mov     edi, 14
        call    set_gate
        lidt    [idt_desc]
        mov     edi, 0x00310000                     ; source data: 0..255 repeated
        xor     eax, eax
.s0:    mov     [edi], al
        inc     edi
        inc     eax
        cmp     edi, 0x00312000
        jne     .s0
        mov     ecx, 3
.s1:    push    ecx
        mov     dword [PT + 8], 0                   ; 0x402000 not present
        invlpg  [0x00402000]
        mov     esi, 0x00310800
        mov     edi, 0x00401800                     ; 2 KiB in 0x401000, 2 KiB in 0x402000
        mov     ecx, 1024
        cld
        rep     movsd
        mov     [str_esi], esi
        mov     [str_edi], edi
        mov     [str_ecx], ecx
        pop     ecx
        loop    .s1
        EXPECT32 "rep-movsd-pf-esi", [str_esi], 0x00311800
        EXPECT32 "rep-movsd-pf-edi", [str_edi], 0x00402800
        EXPECT32 "rep-movsd-pf-ecx", [str_ecx], 0
        EXPECT32 "rep-movsd-pf-data", [0x004027FC], 0xFFFEFDFC
        EXPECT32 "rep-movsd-pf-count", [pf_count], 3
        mov     ecx, 3
.s2:    push    ecx
        mov     dword [PT + 8], 0
        invlpg  [0x00402000]
        mov     esi, 0x00310010
        mov     edi, 0x00402000
        movsw
        mov     [str_esi], esi
        mov     [str_edi], edi
        pop     ecx
        loop    .s2
        EXPECT32 "movsw-pf-esi", [str_esi], 0x00310012
        EXPECT32 "movsw-pf-edi", [str_edi], 0x00402002
        EXPECT32 "movsw-pf-data", [0x00402000], 0x03021110
        mov     ecx, 3
.s3:    push    ecx
        mov     dword [PT + 8], 0
        invlpg  [0x00402000]
        mov     edi, 0x00402003                     ; backwards from 0x402003 into 0x401FFC
        mov     esi, 0x00310107
        mov     ecx, 8
        std
        rep     movsb
        cld
        mov     [str_esi], esi
        mov     [str_edi], edi
        mov     [str_ecx], ecx
        pop     ecx
        loop    .s3
        EXPECT32 "rep-movsb-std-esi", [str_esi], 0x003100FF
        EXPECT32 "rep-movsb-std-edi", [str_edi], 0x00401FFB
        EXPECT32 "rep-movsb-std-data", [0x00401FFC], 0x03020100
        mov     ecx, 3
.s4:    push    ecx
        mov     dword [PT + 8], 0
        invlpg  [0x00402000]
        mov     edi, 0x00401FF0
        mov     ecx, 0x20
        mov     al, 0xA5
        rep     stosb
        mov     [str_edi], edi
        pop     ecx
        loop    .s4
        EXPECT32 "rep-stosb-pf-edi", [str_edi], 0x00402010
        EXPECT32 "rep-stosb-pf-data", [0x0040200C], 0xA5A5A5A5
        jmp     branches

call_c: call    0x00403000                  ; one call site for both rounds
        ret

pf_handler:                                 ; map 0x402000 -> PAGE_B2 + 0x10000
        push    eax
        inc     dword [pf_count]
        mov     dword [PT + 8], PAGE_B2 + 0x10000 + 3
        invlpg  [0x00402000]
        pop     eax
        add     esp, 4                      ; the error code
        iret


branches:
        ; ---- conditional branches inside blocks, both ways: count the
        ; values below, equal to and above 50 in 0..99, then a sum that
        ; leaves through the middle of the loop's block
        xor     eax, eax
        xor     ebx, ebx
        xor     edx, edx
        xor     ecx, ecx
.c1:    cmp     ecx, 50
        jb      .below
        je      .equal
        inc     edx
        jmp     .next
.below: inc     eax
        jmp     .next
.equal: inc     ebx
.next:  inc     ecx
        cmp     ecx, 100
        jne     .c1
        EXPECT32 "jcc-below", eax, 50
        EXPECT32 "jcc-equal", ebx, 1
        EXPECT32 "jcc-above", edx, 49
        xor     eax, eax
        mov     ecx, 1000
.c2:    add     eax, ecx
        cmp     eax, 400000
        ja      .c2out                      ; leaves from the middle
        dec     ecx
        jnz     .c2
.c2out: EXPECT32 "jcc-middle-exit", eax, 400372
        EXPECT32 "jcc-middle-exit-ecx", ecx, 448
        ; a superblock left by a taken Jcc right after SHR, whose AF is
        ; undefined (hosts differ): --check must mask it at that exit
        mov     ecx, 20
        xor     edx, edx
.c3:    mov     eax, 0x07C00000
        mov     edi, 0x07800000
        shr     eax, 12
        shr     edi, 12
        jne     .c3out                      ; taken: leaves mid-block
        inc     edx
        cmp     eax, edi
.c3out: dec     ecx
        jnz     .c3
        EXPECT32 "jcc-exit-after-shr", edx, 0
        ; PUSHF of SHR's undefined AF inside one block (Linux's CPUID
        ; probe): --check cannot compare such a block, and must not report it
        mov     ecx, 5
.c4:    mov     edx, 0x61
        shr     edx, 2
        pushfd
        pop     eax
        and     eax, 0xC5                   ; CF PF ZF SF: defined
        loop    .c4
        EXPECT32 "pushf-after-shr", eax, 0x04
        ; a taken Jcc to the next instruction in the middle of a block (74 00,
        ; as Linux has): the same place either way
        mov     ecx, 5
        xor     ebx, ebx
.c5:    xor     eax, eax                    ; ZF = 1: taken
        db      0x74, 0x00                  ; je $+2
        mov     edx, 7
        add     eax, edx
        add     ebx, eax
        loop    .c5
        EXPECT32 "jcc-to-next-insn", ebx, 35
        ; a #PF right after SHR in one block: the exception frame holds
        ; SHR's undefined AF (hosts differ): --check must not report it
        mov     ecx, 3
.c6:    mov     dword [PT + 8], 0
        invlpg  [0x00402000]
        mov     edx, 0x61
        shr     edx, 2
        mov     eax, [0x00402000]           ; #PF: pf_handler maps it
        mov     dword [PT + 8], 0
        invlpg  [0x00402000]
        mov     ebx, 0x61
        shr     ebx, 2
        cmp     bl, [0x00402000]            ; #PF in an insn that writes AF
        loop    .c6
        EXPECT32 "pf-after-shr", edx, 0x18

        ; ---- POPF and STI setting IF while IRQ0 waits in the PIC: the
        ; interrupt is taken before the next instruction (after STI's
        ; shadow). bt goes on in translated code after them only when
        ; nothing waits.
        mov     eax, irq0_handler
        mov     edi, 0x20
        call    set_gate
        lidt    [idt_desc]
        PIC_INIT 0x20, 0x28, 0xFE, 0xFF     ; vectors 20h / 28h, IRQ0 only
        ; first with nothing waiting (bt chains past POPF and STI), then
        ; through the same code with IRQ0 waiting
        mov     ecx, 5
.i0:    cli
        mov     dword [IRQ_COUNT], 0
        call    popf_probe
        call    sti_probe
        call    sti_ret_probe
        loop    .i0
        cli
        xor     ebx, ebx                    ; POPF: taken at once
        xor     edx, edx                    ; STI: taken after the shadow
        xor     ebp, ebp                    ; STI; RET: taken after the RET
        mov     ecx, 5
.i1:    cli
        call    irq0_wait
        call    popf_probe
        add     ebx, eax
        cli
        call    irq0_wait
        call    sti_probe
        add     edx, eax
        cli
        call    irq0_wait
        call    sti_ret_probe
        mov     eax, [IRQ_COUNT]
        add     ebp, eax
        loop    .i1
        cli
        EXPECT32 "popf-if-irq-taken-at-once", ebx, 5
        EXPECT32 "sti-irq-taken-after-shadow", edx, 5
        EXPECT32 "sti-ret-irq-taken-after-ret", ebp, 5

        ; ---- MOV DS reloading the selector DS holds: bt skips such a
        ; reload when the GDT entry is unchanged. It must not when the entry
        ; changed, when DS was loaded otherwise in between, or after LGDT.
        ; Selector 18h: base 0 in GDT2 at first, then 1000h; 2000h in GDT3.
        mov     dword [0x1000], 0x5A5A5A5A
        mov     dword [0x2000], 0xA5A5A5A5
        cld
        mov     esi, gdt
        mov     edi, GDT2
        mov     ecx, 6
        rep     movsd
        mov     esi, gdt
        mov     edi, GDT3
        mov     ecx, 6
        rep     movsd
        mov     dword [GDT2 + 0x18], 0x0000FFFF
        mov     dword [GDT2 + 0x1C], 0x00CF9200
        mov     dword [GDT3 + 0x18], 0x2000FFFF
        mov     dword [GDT3 + 0x1C], 0x00CF9200
        lgdt    [gdt2_desc]
        mov     ecx, 5
.g1:    mov     ax, 0x18
        call    load_ds                     ; the same MOV DS each time
        loop    .g1
        mov     dword [GDT2 + 0x18], 0x1000FFFF     ; the entry: base 1000h
        mov     ax, 0x18
        call    load_ds
        mov     eax, [0]
        mov     bx, 0x10
        mov     ds, bx
        EXPECT32 "mov-ds-entry-changed", eax, 0x5A5A5A5A
        mov     ecx, 5
.g2:    mov     ax, 0x18
        call    load_ds
        loop    .g2
        push    dword 0x10                  ; DS loaded by POP in between
        pop     ds
        mov     ax, 0x18
        call    load_ds
        mov     eax, [0]
        mov     bx, 0x10
        mov     ds, bx
        EXPECT32 "mov-ds-after-pop-ds", eax, 0x5A5A5A5A
        mov     ecx, 5
.g3:    mov     ax, 0x18
        call    load_ds
        loop    .g3
        lgdt    [ss:gdt3_desc]              ; the same selector in another GDT
        mov     ax, 0x18
        call    load_ds
        mov     eax, [0]
        mov     bx, 0x10
        mov     ds, bx
        EXPECT32 "mov-ds-after-lgdt", eax, 0xA5A5A5A5
        ; POP DS likewise: GDT3's entry changed between pops of 18h
        mov     ecx, 5
.g4:    mov     eax, 0x18
        call    pop_ds
        loop    .g4
        mov     dword [ss:GDT3 + 0x18], 0x1000FFFF
        mov     eax, 0x18
        call    pop_ds
        mov     eax, [0]
        mov     bx, 0x10
        mov     ds, bx
        EXPECT32 "pop-ds-entry-changed", eax, 0x5A5A5A5A
        lgdt    [gdt_desc]
        ; MOV r32, Sreg zero-extends (P6); MOV r16, Sreg keeps the rest
        mov     ecx, 5
.g5:    mov     eax, 0xFFFFFFFF
        mov     eax, ds
        mov     edx, 0xFFFFFFFF
        mov     dx, ds
        loop    .g5
        EXPECT32 "mov-r32-from-ds", eax, 0x10
        EXPECT32 "mov-r16-from-ds", edx, 0xFFFF0010

        ; ---- BTS/BTR/BTC/BT m32, r32: the signed bit offset reaches other
        ; dwords (bt translates these natively, computing the address)
        mov     edi, BT_BUF - 0x100
        xor     eax, eax
        mov     ecx, 0x80
        cld
        rep     stosd
        mov     edi, BT_BUF
        xor     edx, edx
        mov     ecx, 5
.b1:    mov     eax, -33                    ; bit 31 of [edi - 8]
        bts     [edi], eax
        mov     eax, 100                    ; bit 4 of [edi + 12]
        lock bts [edi], eax
        mov     eax, 7
        btc     [edi], eax                  ; 5 toggles: set
        mov     eax, 0x3FF                  ; bit 31 of [edi + 124]
        bts     [edi + ecx * 4 - 20], eax   ; (address from base, index, disp)
        mov     eax, 100
        bt      [edi], eax
        adc     edx, 0                      ; CF: the bit, set from the first pass
        loop    .b1
        EXPECT32 "bts-negative-offset", dword [BT_BUF - 8], 0x80000000
        EXPECT32 "lock-bts-offset-100", dword [BT_BUF + 12], 0x10
        EXPECT32 "btc-offset-7", dword [BT_BUF], 0x80
        EXPECT32 "bts-scaled-address", dword [BT_BUF + 124 - 16], 0x80000000
        EXPECT32 "bt-cf", edx, 5
        mov     eax, -33
        btr     [edi], eax
        setc    dl
        EXPECT32 "btr-negative-offset", dword [BT_BUF - 8], 0
        EXPECT32 "btr-cf", edx, 1
        jmp     kexit

; PIT channel 0 one-shot (mode 0, count 2): IRQ0 asserted soon; wait with
; IF clear until the master PIC's IRR shows it, irq_count = 0
irq0_wait:
        mov     al, 0x30
        out     0x43, al
        mov     al, 2
        out     0x40, al
        xor     al, al
        out     0x40, al
.w:     mov     al, 0x0A                    ; OCW3: read IRR
        out     0x20, al
        in      al, 0x20
        test    al, 1
        jz      .w
        mov     dword [IRQ_COUNT], 0
        ret

popf_probe:                                 ; IF set by POPF; eax = interrupts taken
        pushfd
        or      dword [esp], 0x200
        popfd
        mov     eax, [IRQ_COUNT]
        ret

sti_probe:                                  ; eax = 16 * taken in STI's shadow + taken after it
        sti
        mov     eax, [IRQ_COUNT]
        mov     esi, [IRQ_COUNT]
        shl     eax, 4
        add     eax, esi
        ret

sti_ret_probe:                              ; RET in STI's shadow
        sti
        ret

load_ds:
        mov     ds, ax
        ret

pop_ds:                                     ; DS = EAX through POP DS
        push    eax
        pop     ds
        ret

irq0_handler:
        inc     dword [IRQ_COUNT]
        push    eax
        mov     al, 0x20                    ; EOI
        out     0x20, al
        pop     eax
        iretd

%include "flat.inc"
idt_desc: dw    0x21 * 8 - 1
        dd      idt
pf_count: dd    0
gdt2_desc: dw   0x1F
        dd      GDT2
gdt3_desc: dw   0x1F
        dd      GDT3
str_esi: dd     0
str_edi: dd     0
str_ecx: dd     0
        align   8
idt:    times   0x21 * 8 db 0
bss_end:
