; bench/micro/micro.asm - the trap-and-emulate vs translation microbenchmark
; guest (issue 9). A freestanding Multiboot v1 kernel (a.out kludge, loaded at
; 1 MiB) that runs on bt86 (every engine) and on QEMU (-kernel).
;
; It builds a GDT (ring-0 and ring-3 code/data), a TSS, an IDT and 4 KiB
; identity paging of the first 8 MiB, calibrates the TSC against PIT channel
; 2 (gate through port 0x61, as Linux's pit_calibrate_tsc does), then times
; each test with RDTSC: one warm-up batch, then BATCHES batches of ITERS loop
; iterations; the figure is the fastest batch (the median is printed too).
; Cycles are TSC ticks: under bt86 the TSC is 1 GHz of host time
; (cpu_tsc_read), so there cycles are ns.
;
; Output (COM1, polled, and port 0xE9), one line per test:
;   micro start iters=N batches=B tsc_khz=K
;   micro test=NAME iters=OPS cycles_per_iter=C.CC ns_per_iter=T.TT median_cycles_per_iter=M.MM
;   micro done
; "iters" counts operations (loop iterations x the unroll factor), and the
; per-iteration figures include the loop's DEC/JNZ share. ns_per_iter is left
; out when the PIT calibration failed. A test the CPU cannot run prints
; "micro test=NAME skipped=REASON". Then 0 goes to the isa-debug-exit port
; 0xF4 (bt86 and QEMU exit with status 1). Any unexpected exception prints
; "micro error ..." and writes 1 (exit status 3): the guest never hangs.
;
; Kernel command line (bt86 --append, QEMU -append), tokens separated by
; spaces: "quick" (few iterations), "iters=N" (loop iterations per batch for
; the expensive tests; cheap ones run 10x as many), "batches=B" (1..15).
;
; Build: nasm -f bin -o micro.bin bench/micro/micro.asm
        cpu     686
        bits    32
        org     0x100000

MB_MAGIC  equ   0x1BADB002
MB_FLAGS  equ   0x00010000              ; address fields valid (a.out kludge)

; fixed memory above the image (inside bss, which the loader zeroes; QEMU
; puts the Multiboot info right after bss_end, so nothing is written beyond)
PAGEDIR   equ   0x110000                ; page directory
PTABLES   equ   0x111000                ; two page tables: 0-8 MiB
KSTACK    equ   0x118000                ; the kernel's stack (top)
R0STACK   equ   0x11A000                ; TSS esp0 and SYSENTER stack (top)
USTACK    equ   0x11C000                ; ring-3 stack (top)
BSS_END   equ   0x11C000
PFPAGE    equ   0x700000                ; not-present page for the #PF test
PTEPAGE   equ   0x701000                ; page whose PTE the pte test rewrites
PTE_PF    equ   PTABLES + (PFPAGE >> 12) * 4
PTE_MOD   equ   PTABLES + (PTEPAGE >> 12) * 4

DEF_ITERS   equ 10000                   ; loop iterations per batch (weight 1)
DEF_BATCHES equ 7
QUICK_ITERS equ 500
QUICK_BATCHES equ 5
MAX_ITERS   equ 1000000
MAX_BATCHES equ 15
CAL_LATCH   equ 23864                   ; 20 ms of the 1.193182 MHz PIT clock
CAL_REPS    equ 5                       ; calibrations, the median is taken
CAL_NUM     equ 1193182                 ; kHz = ticks * CAL_NUM / (LATCH * 1000)

KCODE   equ     0x08
KDATA   equ     0x10
UCODE   equ     0x1B
UDATA   equ     0x23
TSSSEL  equ     0x28

mb_header:
        dd      MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd      mb_header, 0x100000, load_end, BSS_END, entry

; ---------------------------------------------------------------- macros
%macro  PRINT 1                         ; print a string literal
        jmp     %%skip
%%s:    db      %1, 0
%%skip: push    esi
        mov     esi, %%s
        call    puts
        pop     esi
%endmacro

; ---------------------------------------------------------------- entry
entry:
        cli
        mov     esp, KSTACK
        cld
        ; the command line first: QEMU's info block lies beyond our bss
        cmp     eax, 0x2BADB002
        jne     .nocmd
        test    dword [ebx], 4
        jz      .nocmd
        mov     esi, [ebx + 16]
        mov     edi, cmdline
        mov     ecx, 255
.cp:    lodsb
        stosb
        test    al, al
        jz      .nocmd
        loop    .cp
.nocmd:
        lgdt    [gdt_ptr]
        jmp     KCODE:.cs_ok
.cs_ok: mov     ax, KDATA
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        xor     ax, ax
        mov     fs, ax
        mov     gs, ax
        call    uart_init
        call    pic_init
        call    idt_init
        lidt    [idt_ptr]
        ; TSS: ring-0 stack for INT 80h from ring 3
        mov     eax, tss
        mov     edi, gdt + TSSSEL
        mov     word [edi], 0x67
        mov     [edi + 2], ax
        shr     eax, 16
        mov     [edi + 4], al
        mov     byte [edi + 5], 0x89
        mov     byte [edi + 6], 0
        mov     [edi + 7], ah
        mov     dword [tss + 4], R0STACK
        mov     dword [tss + 8], KDATA
        mov     word [tss + 0x66], 0x68         ; no I/O bitmap
        mov     ax, TSSSEL
        ltr     ax
        mov     dword [phase], ph_paging
        call    paging_init
        call    parse_cmdline
        mov     dword [phase], ph_sep
        call    sep_init
        mov     dword [phase], ph_cal
        call    calibrate

        PRINT   "micro start iters="
        mov     eax, [iters]
        xor     edx, edx
        call    print_u64
        PRINT   " batches="
        mov     eax, [batches]
        xor     edx, edx
        call    print_u64
        PRINT   " tsc_khz="
        mov     eax, [tsc_khz]
        xor     edx, edx
        call    print_u64
        PRINT   10

        mov     esi, test_table
.next:  cmp     dword [esi], 0
        je      .done
        call    run_test
        add     esi, TEST_SIZE
        jmp     .next
.done:  PRINT   {"micro done", 10}
        xor     eax, eax
        jmp     exit

exit:                                   ; AL = status for isa-debug-exit
        out     0xF4, al
.halt:  cli
        hlt
        jmp     .halt

; ---------------------------------------------------------------- setup
uart_init:                              ; COM1: 115200 8N1, FIFO on, no IRQs
        mov     dx, 0x3F9
        xor     al, al
        out     dx, al                  ; IER = 0
        mov     dx, 0x3FB
        mov     al, 0x80
        out     dx, al                  ; DLAB
        mov     dx, 0x3F8
        mov     al, 1
        out     dx, al                  ; divisor 1
        inc     dx
        xor     al, al
        out     dx, al
        mov     dx, 0x3FB
        mov     al, 3
        out     dx, al                  ; 8N1
        mov     dx, 0x3FA
        mov     al, 0xC7
        out     dx, al                  ; FIFO enable + clear
        mov     dx, 0x3FC
        mov     al, 3
        out     dx, al                  ; DTR RTS
        ret

pic_init:                               ; 8259A ICW1-4: vectors 0x20/0x28, all masked
        mov     al, 0x11
        out     0x20, al
        out     0xA0, al
        mov     al, 0x20
        out     0x21, al
        mov     al, 0x28
        out     0xA1, al
        mov     al, 4
        out     0x21, al
        mov     al, 2
        out     0xA1, al
        mov     al, 1
        out     0x21, al
        out     0xA1, al
        mov     al, 0xFF
        out     0x21, al
        out     0xA1, al
        ret

idt_init:                               ; every vector caught; the tests' own
        xor     ebx, ebx                ; handlers replace the stubs
.all:   mov     eax, stub_other
        mov     dl, 0x8E
        call    set_idt
        inc     ebx
        cmp     ebx, 256
        jb      .all
        xor     ebx, ebx
.exc:   mov     eax, [stub_table + ebx * 4]
        mov     dl, 0x8E
        call    set_idt
        inc     ebx
        cmp     ebx, 32
        jb      .exc
.irq:   mov     eax, stub_irq           ; 0x20-0x2F: spurious IRQs get an EOI
        mov     dl, 0x8E
        call    set_idt
        inc     ebx
        cmp     ebx, 0x30
        jb      .irq
        mov     ebx, 0                  ; #DE
        mov     eax, de_handler
        mov     dl, 0x8E
        call    set_idt
        mov     ebx, 14                 ; #PF
        mov     eax, pf_handler
        call    set_idt
        mov     ebx, 0x80               ; the system call, DPL 3
        mov     eax, int80_handler
        mov     dl, 0xEE
        call    set_idt
        mov     ebx, 0x81               ; back to ring 0 after a ring-3 test
        mov     eax, ring0_return
        call    set_idt
        ret

set_idt:                                ; EBX = vector, EAX = handler, DL = type
        lea     edi, [idt + ebx * 8]
        mov     [edi], ax
        mov     word [edi + 2], KCODE
        mov     byte [edi + 4], 0
        mov     [edi + 5], dl
        push    eax
        shr     eax, 16
        mov     [edi + 6], ax
        pop     eax
        ret

paging_init:                            ; identity map 0-8 MiB, 4 KiB pages, user RW
        mov     edi, PAGEDIR
        mov     ecx, 1024
        xor     eax, eax
        rep     stosd
        mov     dword [PAGEDIR], PTABLES + 0x007
        mov     dword [PAGEDIR + 4], PTABLES + 0x1000 + 0x007
        mov     edi, PTABLES
        mov     eax, 0x007
        mov     ecx, 2048
.pte:   stosd
        add     eax, 0x1000
        loop    .pte
        and     dword [PTE_PF], ~1      ; the #PF test page starts not present
        mov     eax, PAGEDIR
        mov     cr3, eax
        mov     dword [recover], .nopg  ; a CPU that refuses paging (e.g. KVM
        mov     [recover_esp], esp      ; PVM: #GP) still runs the other tests
        mov     eax, cr0
        or      eax, 0x80000000
        mov     cr0, eax
        jmp     .flush
.flush: mov     dword [recover], 0
        mov     byte [have_paging], 1
        ret
.nopg:  PRINT   "micro note paging refused (vector="
        xor     edx, edx
        call    print_u64
        PRINT   {"): cr3, pte and pf skipped", 10}
        ret

sep_init:                               ; SYSENTER MSRs when CPUID says SEP
        mov     eax, 1
        cpuid
        test    edx, 1 << 11
        jz      .none
        mov     dword [recover], .none  ; WRMSR #GP: no SYSENTER test
        mov     [recover_esp], esp
        mov     ecx, 0x174              ; IA32_SYSENTER_CS: SS = CS + 8,
        mov     eax, KCODE              ; SYSEXIT CS = CS + 16, SS = CS + 24 (| 3)
        xor     edx, edx
        wrmsr
        mov     ecx, 0x175              ; IA32_SYSENTER_ESP
        mov     eax, R0STACK
        wrmsr
        mov     ecx, 0x176              ; IA32_SYSENTER_EIP
        mov     eax, sysenter_handler
        wrmsr
        mov     byte [have_sep], 1
.none:  mov     dword [recover], 0
        ret

; TSC frequency from PIT channel 2 in mode 0 (count CAL_LATCH, OUT2 rises at
; terminal count and is read back as port 0x61 bit 5), the median of CAL_REPS
; measurements: a host that deschedules the vCPU for a moment (QEMU, load on
; the host) spoils one, not the figure. A PIT that never counts leaves
; tsc_khz = 0 after a bounded number of polls.
calibrate:
        xor     ebx, ebx
.rep:   call    cal_once
        jc      .fail
        call    sorted_insert
        inc     ebx
        cmp     ebx, CAL_REPS
        jb      .rep
        mov     eax, [samples + (CAL_REPS / 2) * 8]
        mov     edx, [samples + (CAL_REPS / 2) * 8 + 4]
        mov     ecx, CAL_NUM
        call    mul64_32
        mov     ecx, CAL_LATCH * 1000
        call    div64_32
        mov     [tsc_khz], eax
        ret
.fail:  mov     dword [tsc_khz], 0
        ret

cal_once:                               ; -> EDX:EAX TSC ticks, CF=1: no PIT
        in      al, 0x61
        and     al, ~0x02               ; speaker data off
        or      al, 0x01                ; gate 2 high
        out     0x61, al
        mov     al, 0xB0                ; channel 2, lobyte/hibyte, mode 0, binary
        out     0x43, al
        mov     al, CAL_LATCH & 0xFF
        out     0x42, al
        mov     al, CAL_LATCH >> 8
        out     0x42, al
        rdtsc
        mov     [t0], eax
        mov     [t0 + 4], edx
        mov     ecx, 100000000
.wait:  in      al, 0x61
        test    al, 0x20
        jnz     .done
        dec     ecx
        jnz     .wait
        stc
        ret
.done:  rdtsc
        sub     eax, [t0]
        sbb     edx, [t0 + 4]
        clc
        ret

; tokens: quick, iters=N, batches=B
parse_cmdline:
        mov     dword [iters], DEF_ITERS
        mov     dword [batches], DEF_BATCHES
        mov     esi, cmdline
.tok:   lodsb
        test    al, al
        jz      .end
        cmp     al, ' '
        je      .tok
        dec     esi                     ; ESI = token start
        mov     edi, kw_quick
        call    match_kw
        jc      .notq
        mov     al, [esi]
        test    al, al
        jz      .isq
        cmp     al, ' '
        jne     .notq_restore
.isq:   mov     dword [iters], QUICK_ITERS
        mov     dword [batches], QUICK_BATCHES
        jmp     .tok
.notq_restore:
        sub     esi, 5
.notq:  mov     edi, kw_iters
        call    match_kw
        jc      .noti
        call    parse_dec
        cmp     eax, 1
        jb      .tok
        cmp     eax, MAX_ITERS
        jbe     .iok
        mov     eax, MAX_ITERS
.iok:   mov     [iters], eax
        jmp     .tok
.noti:  mov     edi, kw_batches
        call    match_kw
        jc      .skip
        call    parse_dec
        cmp     eax, 1
        jb      .tok
        cmp     eax, MAX_BATCHES
        jbe     .bok
        mov     eax, MAX_BATCHES
.bok:   mov     [batches], eax
        jmp     .tok
.skip:  lodsb                           ; skip an unknown token
        test    al, al
        jz      .end
        cmp     al, ' '
        jne     .skip
        jmp     .tok
.end:   ret

match_kw:                               ; ESI text, EDI keyword (0-terminated):
        push    esi                     ; CF=0 and ESI past it when it matches
.l:     mov     al, [edi]
        test    al, al
        jz      .yes
        cmp     al, [esi]
        jne     .no
        inc     esi
        inc     edi
        jmp     .l
.yes:   add     esp, 4
        clc
        ret
.no:    pop     esi
        stc
        ret

parse_dec:                              ; ESI digits -> EAX (saturating)
        xor     eax, eax
.l:     movzx   edx, byte [esi]
        sub     edx, '0'
        cmp     edx, 9
        ja      .end
        inc     esi
        cmp     eax, 100000000
        jae     .l
        imul    eax, eax, 10
        add     eax, edx
        jmp     .l
.end:   ret

; ---------------------------------------------------------------- harness
; test_table rows: body, unroll (operations per loop iteration), weight
; (loop iterations = iters * weight), needs (1 = SYSENTER, 2 = paging), then
; the name
; (0-terminated, 12 bytes)
TEST_SIZE equ   28
%macro  TEST 5
        dd      %2, %3, %4, %5
%%n:    db      %1, 0
        times   12 - ($ - %%n) db 0
%endmacro
test_table:
        TEST    "alu",      body_alu,      8, 10, 0
        TEST    "call",     body_call,     4, 10, 0
        TEST    "pushf",    body_pushf,    4, 10, 0
        TEST    "cli",      body_cli,      4, 10, 0
        TEST    "in",       body_in,       1, 1, 0
        TEST    "out",      body_out,      1, 1, 0
        TEST    "cr3",      body_cr3,      1, 1, 2
        TEST    "pte",      body_pte,      1, 1, 2
        TEST    "pf",       body_pf,       1, 1, 2
        TEST    "de",       body_de,       1, 1, 0
        TEST    "int80",    body_int80,    1, 1, 0
        TEST    "sysenter", body_sysenter, 1, 1, 1
        dd      0

run_test:                               ; ESI = table row (preserved)
        lea     eax, [esi + 16]
        mov     [phase], eax
        PRINT   "micro test="
        push    esi
        add     esi, 16
        call    puts
        pop     esi
        test    dword [esi + 12], 1
        jz      .sep_ok
        cmp     byte [have_sep], 0
        jne     .sep_ok
        PRINT   {" skipped=no-sep", 10}
        ret
.sep_ok:
        test    dword [esi + 12], 2
        jz      .can
        cmp     byte [have_paging], 0
        jne     .can
        PRINT   {" skipped=no-paging", 10}
        ret
.can:   mov     eax, [iters]
        imul    eax, [esi + 8]
        mov     [cur_loops], eax
        imul    eax, [esi + 4]
        mov     [cur_ops], eax
        mov     eax, [esi]
        mov     [cur_body], eax
        push    esi
        call    batch                   ; warm-up
        xor     ebx, ebx
.b:     push    ebx
        call    batch
        pop     ebx
        mov     eax, [t1]
        mov     edx, [t1 + 4]
        call    sorted_insert
        inc     ebx
        cmp     ebx, [batches]
        jb      .b
        pop     esi
        PRINT   " iters="
        mov     eax, [cur_ops]
        xor     edx, edx
        call    print_u64
        ; fastest batch
        mov     eax, [samples]
        mov     edx, [samples + 4]
        call    per_op_x1e5
        mov     [v_min], eax
        mov     [v_min + 4], edx
        PRINT   " cycles_per_iter="
        call    print_cycles
        cmp     dword [tsc_khz], 0
        je      .nons
        PRINT   " ns_per_iter="
        mov     eax, [v_min]
        mov     edx, [v_min + 4]
        mov     ecx, 1000
        call    mul64_32
        mov     ecx, [tsc_khz]
        call    div64_32
        call    print_x100
.nons:  mov     eax, [batches]
        shr     eax, 1
        mov     edx, [samples + eax * 8 + 4]
        mov     eax, [samples + eax * 8]
        call    per_op_x1e5
        PRINT   " median_cycles_per_iter="
        call    print_cycles
        PRINT   10
        ret

sorted_insert:                          ; EDX:EAX into samples[0..EBX], kept sorted
        push    ecx
        push    edi
        mov     edi, ebx
.ins:   test    edi, edi
        jz      .put
        cmp     edx, [samples + edi * 8 - 4]
        ja      .put
        jb      .shift
        cmp     eax, [samples + edi * 8 - 8]
        jae     .put
.shift: mov     ecx, [samples + edi * 8 - 8]
        mov     [samples + edi * 8], ecx
        mov     ecx, [samples + edi * 8 - 4]
        mov     [samples + edi * 8 + 4], ecx
        dec     edi
        jmp     .ins
.put:   mov     [samples + edi * 8], eax
        mov     [samples + edi * 8 + 4], edx
        pop     edi
        pop     ecx
        ret

per_op_x1e5:                            ; EDX:EAX cycles of a batch -> per op x 1e5
        mov     ecx, 100000
        call    mul64_32
        mov     ecx, [cur_ops]
        jmp     div64_32

print_cycles:                           ; EDX:EAX = per op x 1e5
        mov     ecx, 1000
        call    div64_32
        jmp     print_x100

batch:                                  ; one timed batch -> t1 = elapsed ticks
        pushad
        rdtsc
        mov     [t0], eax
        mov     [t0 + 4], edx
        mov     ecx, [cur_loops]
        call    [cur_body]
        rdtsc
        sub     eax, [t0]
        sbb     edx, [t0 + 4]
        mov     [t1], eax
        mov     [t1 + 4], edx
        popad
        ret

; ---------------------------------------------------------------- tests
; Each body runs ECX loop iterations and may clobber every register but ESP.

body_alu:                               ; baseline: dependent register ALU ops
        mov     eax, 1
        mov     ebx, 3
        mov     edx, 5
        mov     esi, 7
.l:
%rep 2
        add     eax, ebx
        xor     edx, eax
        sub     esi, edx
        or      ebx, esi
%endrep
        dec     ecx
        jnz     .l
        ret

body_call:                              ; CALL near + RET
.l:
%rep 4
        call    just_ret
%endrep
        dec     ecx
        jnz     .l
        ret
just_ret:
        ret

body_pushf:                             ; PUSHFD + POPFD in ring 0
.l:
%rep 4
        pushfd
        popfd
%endrep
        dec     ecx
        jnz     .l
        ret

body_cli:                               ; STI + CLI in ring 0 (all IRQs masked)
.l:
%rep 4
        sti
        cli
%endrep
        dec     ecx
        jnz     .l
        ret

body_in:                                ; IN from the master PIC's mask register
.l:     in      al, 0x21
        dec     ecx
        jnz     .l
        ret

body_out:                               ; OUT to the POST diagnostic port
        xor     eax, eax
.l:     out     0x80, al
        dec     ecx
        jnz     .l
        ret

body_cr3:                               ; MOV CR3 with the same value (TLB flush)
        mov     eax, cr3
.l:     mov     cr3, eax
        dec     ecx
        jnz     .l
        ret

body_pte:                               ; rewrite a present PTE (toggle A) + INVLPG
        mov     eax, [PTE_MOD]
.l:     xor     eax, 0x20
        mov     [PTE_MOD], eax
        invlpg  [PTEPAGE]
        dec     ecx
        jnz     .l
        ret

body_pf:                                ; read a not-present page: #PF, the
        and     dword [PTE_PF], ~1      ; handler maps it, the read is retried;
        invlpg  [PFPAGE]                ; then unmap it again
        lea     eax, [ecx * 2 + 2]      ; a fault budget: an engine that keeps
        mov     [pf_budget], eax        ; faulting is reported, not waited for
.l:     mov     eax, [PFPAGE]
        and     dword [PTE_PF], ~1
        invlpg  [PFPAGE]
        dec     ecx
        jnz     .l
        ret

body_de:                                ; DIV by zero: #DE, the handler skips it
        xor     ebx, ebx
.l:     xor     edx, edx
        mov     eax, 1
.insn:  div     ebx                     ; 2 bytes (F7 F3)
        dec     ecx
        jnz     .l
        ret

body_int80:                             ; INT 80h from ring 3, IRETD back
        mov     eax, r3_int80
        jmp     enter_ring3
r3_int80:
.l:     int     0x80
        dec     ecx
        jnz     .l
        int     0x81

body_sysenter:                          ; SYSENTER from ring 3, SYSEXIT back
        mov     eax, r3_sysenter
        jmp     enter_ring3
r3_sysenter:
        mov     ebx, ecx
.l:     mov     ecx, esp
        mov     edx, .ret
        sysenter
.ret:   dec     ebx
        jnz     .l
        int     0x81

; Ring 3 at EAX with ECX preserved; INT 81h (ring0_return) resumes the
; body's caller on the kernel stack.
enter_ring3:
        lea     edx, [esp + 0]
        mov     [kesp], edx
        push    dword UDATA
        push    dword USTACK
        push    dword 0x2               ; IF=0, IOPL=0
        push    dword UCODE
        push    eax
        mov     dx, UDATA
        mov     ds, dx
        mov     es, dx
        iretd

; ---------------------------------------------------------------- handlers
int80_handler:
        iretd

sysenter_handler:
        sysexit

ring0_return:
        mov     ax, KDATA
        mov     ds, ax
        mov     es, ax
        mov     esp, [ss:kesp]
        ret

pf_handler:                             ; [err][eip][cs][eflags]
        push    eax
        mov     eax, cr2
        cmp     eax, PFPAGE
        jne     .bad
        dec     dword [pf_budget]
        jz      .bad
        or      dword [PTE_PF], 1
        pop     eax
        add     esp, 4
        iretd
.bad:   pop     eax
        push    dword 14
        jmp     fatal

de_handler:                             ; [eip][cs][eflags]
        cmp     dword [esp], body_de.insn
        jne     .bad
        add     dword [esp], 2
        iretd
.bad:   push    dword 0
        push    dword 0
        jmp     fatal

stub_irq:                               ; a masked PIC still raises spurious IRQs
        push    eax
        mov     al, 0x20
        out     0xA0, al
        out     0x20, al
        pop     eax
        iretd

%assign v 0
%rep 32
stub_ %+ v:
  %if v == 8 || (v >= 10 && v <= 14) || v == 17
        push    dword v
  %else
        push    dword 0
        push    dword v
  %endif
        jmp     fatal
%assign v v + 1
%endrep
stub_other:
        push    dword 0
        push    dword 0xFF              ; a vector we do not expect (>= 0x30)
fatal:                                  ; [vec][err][eip][cs][eflags]
        mov     ax, KDATA
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     eax, [recover]          ; a probe that may fault: resume it
        test    eax, eax                ; with EAX = vector
        jz      .report
        mov     dword [recover], 0
        mov     edx, eax
        mov     eax, [esp]
        mov     esp, [recover_esp]
        jmp     edx
.report:
        PRINT   {10, "micro error in="}
        mov     esi, [phase]
        call    puts
        PRINT   " vector="
        mov     eax, [esp]
        xor     edx, edx
        call    print_u64
        PRINT   " err=0x"
        mov     eax, [esp + 4]
        call    print_hex32
        PRINT   " eip=0x"
        mov     eax, [esp + 8]
        call    print_hex32
        PRINT   " cr2=0x"
        mov     eax, cr2
        call    print_hex32
        PRINT   10
        mov     al, 1
        jmp     exit

; ---------------------------------------------------------------- output
putc:                                   ; AL to COM1 (polled) and port 0xE9
        push    ecx
        push    edx
        push    eax
        mov     dx, 0x3FD
        mov     ecx, 100000             ; no UART: do not wait forever
.w:     in      al, dx
        test    al, 0x20
        jnz     .rdy
        loop    .w
.rdy:   pop     eax
        mov     dx, 0x3F8
        out     dx, al
        out     0xE9, al
        pop     edx
        pop     ecx
        ret

puts:                                   ; ESI = 0-terminated string
        push    eax
        push    esi
.l:     lodsb
        test    al, al
        jz      .e
        call    putc
        jmp     .l
.e:     pop     esi
        pop     eax
        ret

print_u64:                              ; EDX:EAX in decimal
        push    ebx
        push    ecx
        push    edi
        mov     edi, numbuf + 24
        mov     byte [edi], 0
.d:     mov     ecx, 10
        call    div64_32
        add     cl, '0'
        dec     edi
        mov     [edi], cl
        mov     ecx, eax
        or      ecx, edx
        jnz     .d
        push    esi
        mov     esi, edi
        call    puts
        pop     esi
        pop     edi
        pop     ecx
        pop     ebx
        ret

print_x100:                             ; EDX:EAX / 100 with two decimals
        mov     ecx, 100
        call    div64_32
        push    ecx
        call    print_u64
        mov     al, '.'
        call    putc
        pop     eax
        xor     edx, edx
        mov     ecx, 10
        div     ecx
        add     al, '0'
        call    putc
        mov     al, dl
        add     al, '0'
        jmp     putc

print_hex32:                            ; EAX in 8 hex digits
        push    ecx
        push    edx
        mov     edx, eax
        mov     ecx, 8
.h:     rol     edx, 4
        mov     eax, edx
        and     eax, 0xF
        mov     al, [hexdig + eax]
        call    putc
        loop    .h
        pop     edx
        pop     ecx
        ret

; ---------------------------------------------------------------- 64-bit math
mul64_32:                               ; EDX:EAX *= ECX (low 64 bits)
        push    ebx
        push    esi
        mov     esi, edx
        mul     ecx                     ; low half
        mov     ebx, eax
        mov     eax, esi
        mov     esi, edx
        mul     ecx                     ; high half
        lea     edx, [eax + esi]
        mov     eax, ebx
        pop     esi
        pop     ebx
        ret

div64_32:                               ; EDX:EAX /= ECX (ECX != 0); ECX = remainder
        push    ebx
        mov     ebx, eax
        mov     eax, edx
        xor     edx, edx
        div     ecx                     ; high quotient
        xchg    eax, ebx
        div     ecx                     ; low quotient, EDX = remainder
        mov     ecx, edx
        mov     edx, ebx
        pop     ebx
        ret

; ---------------------------------------------------------------- data
        align   8
gdt:    dq      0
        dq      0x00CF9A000000FFFF      ; 0x08 ring-0 code
        dq      0x00CF92000000FFFF      ; 0x10 ring-0 data
        dq      0x00CFFA000000FFFF      ; 0x18 ring-3 code
        dq      0x00CFF2000000FFFF      ; 0x20 ring-3 data
        dq      0                       ; 0x28 TSS (filled in)
gdt_end:
gdt_ptr:
        dw      gdt_end - gdt - 1
        dd      gdt
idt_ptr:
        dw      256 * 8 - 1
        dd      idt

stub_table:
%assign v 0
%rep 32
        dd      stub_ %+ v
%assign v v + 1
%endrep

ph_setup:   db  "setup", 0
ph_paging:  db  "paging", 0
ph_sep:     db  "sysenter-msrs", 0
ph_cal:     db  "calibration", 0
kw_quick:   db  "quick", 0
kw_iters:   db  "iters=", 0
kw_batches: db  "batches=", 0
hexdig:     db  "0123456789abcdef"

        ; the mutable data starts on a page of its own: stores next to code
        ; would make a translator treat the code page as self-modifying
        align   4096
t0:         dq  0                       ; batch start TSC
t1:         dq  0                       ; last batch's elapsed ticks
v_min:      dq  0                       ; fastest batch, per op x 1e5
samples:    times MAX_BATCHES dq 0      ; sorted batch times
iters:      dd  DEF_ITERS               ; loop iterations per batch (weight 1)
batches:    dd  DEF_BATCHES
tsc_khz:    dd  0                       ; calibrated TSC frequency, 0 = unknown
cur_loops:  dd  0                       ; this test: loop iterations per batch
cur_ops:    dd  0                       ; this test: operations per batch
cur_body:   dd  0                       ; this test: body
pf_budget:  dd  0                       ; #PF test: faults left before "error"
phase:      dd  ph_setup                ; what runs now, for "micro error in="
kesp:       dd  0                       ; kernel ESP to resume after ring 3
recover:    dd  0                       ; resume here after a fault, 0 = fatal
recover_esp: dd 0
have_sep:   db  0                       ; SYSENTER MSRs set
have_paging: db 0                       ; CR0.PG is on
numbuf:     times 25 db 0
cmdline:    times 256 db 0
        align   16
tss:        times 0x68 db 0
        align   8
idt:        times 256 * 8 db 0

load_end:
        times   -((load_end - $$) > 0x10000) db 0   ; the image must end below PAGEDIR
