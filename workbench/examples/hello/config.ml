(* mirage >= 4.5.0 & < 4.10.0 *)
(* A small HTTP service with a health path, for `workbench deploy`: GET /health answers 200. *)
open Mirage

let main = main "Unikernel.Main" (stackv4v6 @-> job)
let stack = generic_stackv4v6 default_network
let () = register "hello" [ main $ stack ]
