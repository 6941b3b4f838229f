(* An HTTP/1.0-style responder on the MirageOS TCP/IP stack: one request per connection,
   enough for a health check and a greeting. Run with --ipv4=10.0.0.2/24 [--port=8080]. *)
open Lwt.Infix
open Cmdliner

let port =
  let doc = Arg.info ~doc:"The TCP port to serve HTTP on." [ "port" ] in
  Mirage_runtime.register_arg Arg.(value & opt int 8080 doc)

let response status body =
  Printf.sprintf
    "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
    status (String.length body) body

let route path =
  match path with
  | "/health" -> ("200 OK", "ok\n")
  | "/" -> ("200 OK", "hello from a MirageOS unikernel\n")
  | _ -> ("404 Not Found", "not found\n")

let request_path data =
  match String.split_on_char ' ' (List.hd (String.split_on_char '\r' data)) with
  | _meth :: path :: _ -> path
  | _ -> "/"

module Main (S : Tcpip.Stack.V4V6) = struct
  let serve flow =
    S.TCP.read flow >>= function
    | Ok (`Data buf) ->
        let path = request_path (Cstruct.to_string buf) in
        let status, body = route path in
        Logs.info (fun f -> f "GET %s %s" path status);
        S.TCP.write flow (Cstruct.of_string (response status body)) >>= fun _ ->
        S.TCP.close flow
    | Ok `Eof -> S.TCP.close flow
    | Error e ->
        Logs.warn (fun f -> f "read error: %a" S.TCP.pp_error e);
        S.TCP.close flow

  let start s =
    Logs.info (fun f -> f "serving HTTP on port %d" (port ()));
    S.TCP.listen (S.tcp s) ~port:(port ()) serve;
    S.listen s
end
