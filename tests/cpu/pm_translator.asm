; tests/cpu/pm_translator.asm - what a binary translator can get wrong
; (multiboot kernel, every engine): an instruction that crosses a page
; boundary when the second page is remapped (INVLPG, MOV CR3) or rewritten,
; INVLPG of one address of a 4 MiB page dropping all of it, and a hot loop
; of conditional branches (superblocks) with exits on either side.
; Each is run several times first, so bt has translated and cached it.
%include "kernel.inc"

%define PD      0x00200000                  ; page directory
%define PT      0x00201000                  ; page table for 0x00400000-0x007FFFFF
%define PAGE_A  0x00300000                  ; code page: linear 0x00400000
%define PAGE_B1 0x00301000                  ; linear 0x00401000, first
%define PAGE_B2 0x00302000                  ; ... and after the remap

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
        mov     eax, cr4
        or      eax, 0x10                   ; PSE
        mov     cr4, eax
        mov     eax, PD
        mov     cr3, eax
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .pg
.pg:
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
        jmp     kexit

        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF
        dq      0x00CF92000000FFFF
gdt_end:
gdt_desc: dw    gdt_end - gdt - 1
        dd      gdt
bss_end:
