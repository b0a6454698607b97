import ArgumentParser
import CInterrupt
import Foundation
import LuaHost
import NIOPosix
import NetStack
import NetStackLoad
import NetStackTestServer

/// `netstack run` as a load run: the plan from the flags and the script's options, the VUs,
/// the live view, the outputs, the summary and the status.
struct LoadRunner {
    let script: ScriptChunk
    /// Whether the script has a line `options = ...` (`ScriptOptions.declaresOptions`).
    let declaresOptions: Bool
    let args: [String]
    let flags: LoadFlags
    var hostOptions: ScriptHost.Options
    /// No --memory-limit: each VU gets `DefaultMemoryLimit.perVU`, setup and teardown the script's.
    let defaultMemoryLimit: Bool
    let json: Bool

    func run() throws -> Int32 {
        // SIGINT is counted from the start (reading the options and starting thousands of VUs
        // take a while); the watcher below acts on what arrived meanwhile.
        guard netstack_interrupt_install() == 0 else {
            printErr("netstack: cannot install the SIGINT handler")
            return 1
        }
        let source = script.bytes ?? []
        // The script's options: its init run once in a VU of its own.
        // Also run when `--exec` names a function, so a name that is none is bad usage (64) before
        // any VU starts, as one named by `options.scenarios.NAME.exec` is.
        var options: OptionValue?
        var globalFunctions: Set<String>?
        if declaresOptions || flags.exec != nil {
            let probe = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            defer { try? probe.syncShutdownGracefully() }
            do {
                // A SIGINT meanwhile stops the init (also one that never returns): status 130.
                let read = try ScriptOptions.read(script: script, args: args, hostOptions: hostOptions, on: probe.next(), errorSink: { printErr($0) },
                                                  stopRequested: { netstack_interrupt_count() > 0 })
                options = read.options
                globalFunctions = read.globalFunctions
            } catch let e as LoadOptionError {
                printErr("netstack: \(e.message)")
                if e.message == ScriptOptions.initInterrupted { return 130 }
                // The init raised (1), or the table it made is not an options table (64).
                return e.message.hasPrefix(ScriptOptions.initFailurePrefix) ? 1 : 64
            }
        }
        var plan: LoadPlan
        do {
            plan = try LoadPlan.make(commandLine: try flags.commandLine(), options: options)
        } catch let e as LoadOptionError {
            printErr("netstack: \(e.message)")
            return 64
        }
        if flags.noThresholds { plan.thresholds = [] }
        // A threshold on a metric that is not recorded would judge no samples and pass.
        if flags.noConnectionMetrics, let t = plan.thresholds.first(where: { BuiltinMetrics.connectionMetrics.contains($0.metric) }) {
            printErr("netstack: threshold '\(t.target): \(t.expression)': --no-connection-metrics turns '\(t.metric)' off")
            return 64
        }
        if let why = VUMemoryCheck.problem(vus: plan.vusInThisProcess, available: VUMemoryCheck.availableBytes()) {
            printErr("netstack: \(why)")
            return 64
        }
        if let functions = globalFunctions {
            for s in plan.scenarios {
                if let name = s.exec, !functions.contains(name) {
                    printErr("netstack: scenario '\(s.name)': exec '\(name)' is not a global function of the script")
                    return 64
                }
            }
        }
        var writers: [IntervalWriter] = []
        for o in flags.outputs {
            do {
                switch try flags.parseOutput(o) {
                case .json(let path): writers.append(try IntervalWriter(path: path, format: .json))
                case .csv(let path): writers.append(try IntervalWriter(path: path, format: .csv))
                }
            } catch let e as LoadOptionError {
                printErr("netstack: \(e.message)")
                return 2
            }
        }
        // A bot without --url talks to the built-in echo server.
        var server: LocalWebSocketServer?
        var host = hostOptions
        if host.url == nil {
            var c = LocalWebSocketServer.Configuration()
            c.port = 0
            let s = LocalWebSocketServer(configuration: c, group: MultiThreadedEventLoopGroup.singleton)
            if (try? s.start()) != nil {
                server = s
                host.url = s.url + "/echo"
            }
        }
        defer { server?.stop() }
        host.startLocalServer = nil

        var settings = LoadRun.Settings(script: script, plan: plan)
        settings.args = args
        if defaultMemoryLimit {
            let available = VUMemoryCheck.availableBytes()
            settings.lifecycleMemoryLimit = host.vm.memoryLimit
            host.vm.memoryLimit = DefaultMemoryLimit.perVU(vus: plan.vusInThisProcess, available: available)
            host.vm.memoryLimitOrigin = DefaultMemoryLimit.vuOrigin
            host.vm.memoryPool = LuaMemoryPool(limit: DefaultMemoryLimit.allVUs(available: available),
                                               origin: DefaultMemoryLimit.allVUsOrigin)
        }
        settings.hostOptions = host
        if let t = flags.threads { settings.threads = t }
        settings.connectionMetrics = !flags.noConnectionMetrics
        settings.runSetup = !flags.noSetup
        settings.runTeardown = !flags.noTeardown
        settings.startAt = flags.startAt.flatMap(LoadFlags.parseTime)
        settings.barrier = flags.startBarrier.flatMap { try? StartBarrier(parsing: $0) }
        if let t = flags.startTimeout, let d = try? LoadDuration(parsing: t) { settings.startTimeout = d }
        settings.errorSink = { printErr($0) }   // printErr shows control characters as escapes
        let live = flags.quiet ? nil : LiveView(tty: isatty(2) == 1) { text in
            StandardError.write(text)
        }
        // --report: the timeline, kept on the control loop (onInterval's) and read after the run.
        final class TimelineBox: @unchecked Sendable { var timeline = ReportTimeline(); var last = 0.0 }
        let timeline = flags.report == nil ? nil : TimelineBox()
        // Created (or truncated) now, so that a path that cannot be written fails before the run.
        var reportFile: OutputFile?
        if let path = flags.report {
            do { reportFile = try OutputFile(path: path) } catch let e as LoadOptionError {
                printErr("netstack: --report: \(e.message)")
                return 2
            }
        }
        var exportFile: OutputFile?
        if let path = flags.summaryExport, path != "-" {
            do { exportFile = try OutputFile(path: path) } catch let e as LoadOptionError {
                printErr("netstack: --summary-export: \(e.message)")
                return 2
            }
        }
        settings.onInterval = { interval, total, progress in
            let now = Date().timeIntervalSince1970
            for w in writers { w.write(interval, time: now) }
            live?.update(interval, total, progress)
            if let box = timeline {
                box.timeline.add(interval, time: progress.elapsed, span: progress.elapsed - box.last)
                box.last = progress.elapsed
            }
        }
        let runID = flags.runID ?? UUID().uuidString.lowercased()
        settings.runID = runID
        settings.runHandleSummary = !flags.noSummary
        var endpoint: PrometheusEndpoint?
        if let addr = flags.metricsAddr {
            let e = PrometheusEndpoint(run: runID, segment: plan.segment)
            do { try e.start(address: addr, group: MultiThreadedEventLoopGroup.singleton) } catch let err as LoadOptionError {
                printErr("netstack: \(err.message)")
                return 1
            }
            printErr("netstack: metrics for Prometheus at http://\(e.boundAddress)/metrics")
            endpoint = e
        }
        defer { endpoint?.stop() }
        let onInterval = settings.onInterval
        settings.onInterval = { interval, total, progress in
            onInterval?(interval, total, progress)
            endpoint?.update(total)
        }
        let run = LoadRun(settings: settings)
        // SIGINT: the first is a graceful stop, the second stops now; the summary is printed
        // either way (a third exits at once, from the handler).
        let note: @Sendable (String) -> Void = { printErr("netstack: \($0)") }
        watchInterrupts(first: {
            printErr("")
            run.interrupt(note: note)
        }, second: {
            run.interrupt(note: note)
        })
        var outcome = run.run()
        live?.finish()
        if outcome.summaryHandlerFailed {
            printErr("netstack: handleSummary() failed; the default summary follows")
            if outcome.status == 0 { outcome.status = 1 }
        }
        if let f = outcome.setupFailure {
            printErr("netstack: \(f); no iteration ran")
        } else if let f = outcome.initFailure {
            printErr("netstack: a VU could not start: \(f)")
        }
        let segmentNote = plan.segment == .whole ? "" : " (segment \(plan.segment); its thresholds see only its share: netstack merge judges the run)"
        let table = SummaryTable.render(outcome.metrics, duration: outcome.duration, thresholds: outcome.thresholds,
                                        errors: outcome.errors, header: "netstack load run\(segmentNote): \(script.path)",
                                        histograms: !flags.noSummaryHistograms, trendStats: plan.summaryTrendStats)
        // With --summary-export - the export is stdout's line and the table goes to stderr.
        if json {
            print("{\"event\":\"summary\",\"status\":\(outcome.status)}")
        } else if flags.noSummary {
            // Nothing printed; the files below are still written.
        } else if let outputs = outcome.summaryOutputs {
            // handleSummary's outputs replace the table (k6's rule): stdout's text where the
            // table would have gone, stderr's on stderr, the others in files.
            if let failure = Self.write(outputs, stdoutToStderr: flags.summaryExport == "-") {
                printErr("netstack: handleSummary: \(failure)")
                if outcome.status == 0 { outcome.status = 2 }
            }
        } else if flags.summaryExport == "-" {
            StandardError.write(table)
        } else {
            print(table, terminator: "")
        }
        if let path = flags.summaryExport {
            var export = SummaryExport(runID: runID, script: (script.path as NSString).lastPathComponent,
                                       scriptSHA256: Digest.sha256Hex([UInt8](source)), segment: plan.segment, startedAt: outcome.startedAt,
                                       duration: outcome.duration, status: outcome.status, thresholds: outcome.thresholds, metrics: outcome.metrics)
            if outcome.lateBy > 0 { export.lateBy = outcome.lateBy }
            do {
                if path == "-" {
                    print(String(decoding: try export.encoded(), as: UTF8.self))
                } else if let file = exportFile, !file.write(try export.encoded()) {
                    throw LoadOptionError(file.failure!)
                }
            } catch {
                printErr("netstack: --summary-export: \((error as? LoadOptionError)?.message ?? "\(error)")")
                return outcome.status == 0 ? 2 : outcome.status
            }
        }
        if let file = reportFile, let box = timeline {
            let html = HTMLReport.render(.init(script: (script.path as NSString).lastPathComponent, runID: runID,
                                               startedAt: Date(timeIntervalSince1970: outcome.startedAt), duration: outcome.duration,
                                               status: outcome.status, summary: table, thresholds: outcome.thresholds),
                                         timeline: box.timeline)
            if !file.write(html) {
                printErr("netstack: --report: \(file.failure!)")
                return outcome.status == 0 ? 2 : outcome.status
            }
        }
        // --out files: the first write that failed (a full disk) fails the run.
        for w in writers {
            if let why = w.failure {
                printErr("netstack: --out: \(why)")
                return outcome.status == 0 ? 2 : outcome.status
            }
        }
        if json { print("{\"event\":\"exit\",\"status\":\(outcome.status)}") }
        fflush(stdout)
        return outcome.status
    }

    /// handleSummary()'s outputs: `stdout` (on stderr when stdout carries the export),
    /// `stderr`, and files (created or truncated, as --out files are). Nil, or the first failure.
    static func write(_ outputs: [(name: String, text: [UInt8])], stdoutToStderr: Bool) -> String? {
        var failure: String?
        for (name, text) in outputs {
            switch name {
            case "stdout" where !stdoutToStderr:
                // stdio, as print writes: a reader that has gone loses the text, nothing traps.
                text.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, stdout) }
            case "stdout", "stderr":
                StandardError.write(String(decoding: text, as: UTF8.self))
            default:
                do {
                    let file = try OutputFile(path: name)
                    if !file.write(text) { failure = failure ?? "\(name): \(file.failure ?? "not written")" }
                } catch let e as LoadOptionError {
                    failure = failure ?? e.message
                } catch {
                    failure = failure ?? "\(name): \(error)"
                }
            }
        }
        return failure
    }
}
