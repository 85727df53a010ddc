using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Xunit;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// Races calls on one object from several threads and checks the outcome against a sequential replay. Each thread runs
/// its own seeded random sequence of <see cref="RaceCall{T}"/>s after a common barrier; a call either completes or is
/// refused (<see cref="InvalidOperationException"/>, or the call's own <see cref="RaceCall{T}.Refusal"/>); anything
/// else fails the test. The completed calls are then replayed in order on a fresh object: every checkpoint saved during
/// the race must be the one the replay saves at that point, and the parameters and final checkpoint must be the
/// race's. The order: a completed call that ended before another began comes first; calls whose spans overlap (one
/// began while the other was returning) are tried in every order allowed, up to 64 orders.
/// </summary>
internal static class RaceHarness
{
    /// <summary>The completed call, with tickets drawn just before it began and just after it returned.</summary>
    private sealed record Completed<T>(RaceCall<T> Call, long Start, long End, byte[]? Saved);

    public static void Run<T>(string what, Func<T> create, IReadOnlyList<RaceCall<T>> calls, Func<T, byte[]> save, float[] initial, int seed, int threads = 3, int callsPerThread = 14)
    {
        T target = create();
        float[] p = (float[])initial.Clone();
        long ticket = 0;
        var completed = new List<Completed<T>>[threads];
        var unexpected = new List<string>();
        using var start = new Barrier(threads);
        var running = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int thread = t;
            completed[thread] = [];
            var random = new Random((seed * 31) + thread);
            RaceCall<T>[] mine = Enumerable.Range(0, callsPerThread).Select(_ => calls[random.Next(calls.Count)]).ToArray();
            running[t] = new Thread(() =>
            {
                start.SignalAndWait();
                foreach (RaceCall<T> call in mine)
                {
                    long begin = Interlocked.Increment(ref ticket);
                    try
                    {
                        byte[]? saved = call.Run(target, p);
                        long end = Interlocked.Increment(ref ticket);
                        completed[thread].Add(new Completed<T>(call, begin, end, saved));
                    }
                    catch (Exception e) when (e is InvalidOperationException || (call.Refusal?.IsInstanceOfType(e) ?? false))
                    {
                    }
                    catch (Exception e)
                    {
                        lock (unexpected)
                        {
                            unexpected.Add($"{call.Name}: {e.GetType().Name}: {e.Message}");
                        }
                    }
                }
            });
            running[t].Start();
        }

        foreach (Thread thread in running)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), $"{what}: a thread hung");
        }

        Assert.True(unexpected.Count == 0, $"{what}:\n" + string.Join("\n", unexpected));
        Completed<T>[] done = completed.SelectMany(c => c).OrderBy(c => c.End).ToArray();
        byte[] final = save(target);
        (target as IDisposable)?.Dispose();
        var tried = new List<string>();
        foreach (Completed<T>[] order in Linearizations(done).Take(64))
        {
            string? mismatch = Replay(create, save, order, initial, p, final);
            if (mismatch is null)
            {
                return;
            }

            tried.Add(mismatch);
        }

        Assert.Fail($"{what}: no order of the {done.Length} completed calls gives the result:\n{string.Join("\n", tried.Take(4))}");
    }

    /// <summary>The replay of <paramref name="order"/> on a fresh object, or why it differs from the race.</summary>
    private static string? Replay<T>(Func<T> create, Func<T, byte[]> save, Completed<T>[] order, float[] initial, float[] p, byte[] final)
    {
        T target = create();
        try
        {
            float[] q = (float[])initial.Clone();
            string calls = string.Join(", ", order.Select(c => c.Call.Name));
            foreach (Completed<T> call in order)
            {
                byte[]? saved;
                try
                {
                    saved = call.Call.Run(target, q);
                }
                catch (Exception e) when (e is InvalidOperationException || (call.Call.Refusal?.IsInstanceOfType(e) ?? false))
                {
                    return $"{calls}: {call.Call.Name} refused in the replay: {e.Message}";
                }

                if (call.Saved is not null && !call.Saved.AsSpan().SequenceEqual(saved))
                {
                    return $"{calls}: the checkpoint saved by {call.Call.Name} differs";
                }
            }

            if (!q.AsSpan().SequenceEqual(p))
            {
                return $"{calls}: the parameters differ";
            }

            return save(target).AsSpan().SequenceEqual(final) ? null : $"{calls}: the final checkpoint differs";
        }
        finally
        {
            (target as IDisposable)?.Dispose();
        }
    }

    /// <summary>Every order of <paramref name="calls"/> (sorted by end ticket) in which a call that ended before another began stays first.</summary>
    private static IEnumerable<Completed<T>[]> Linearizations<T>(Completed<T>[] calls)
    {
        var used = new bool[calls.Length];
        var order = new Completed<T>[calls.Length];
        return Extend(0);

        IEnumerable<Completed<T>[]> Extend(int depth)
        {
            if (depth == calls.Length)
            {
                yield return (Completed<T>[])order.Clone();
                yield break;
            }

            for (int i = 0; i < calls.Length; i++)
            {
                // i may come next if no unused call ended before it began.
                if (used[i] || Enumerable.Range(0, calls.Length).Any(j => !used[j] && j != i && calls[j].End < calls[i].Start))
                {
                    continue;
                }

                used[i] = true;
                order[depth] = calls[i];
                foreach (Completed<T>[] result in Extend(depth + 1))
                {
                    yield return result;
                }

                used[i] = false;
            }
        }
    }
}

/// <summary>One call of a race: what it does to the target and the parameters; a checkpoint when it saves one.</summary>
/// <param name="Name">For messages.</param>
/// <param name="Run">The call.</param>
/// <param name="Refusal">An exception type besides <see cref="InvalidOperationException"/> by which the call may be refused with nothing changed.</param>
internal sealed record RaceCall<T>(string Name, Func<T, float[], byte[]?> Run, Type? Refusal = null);
