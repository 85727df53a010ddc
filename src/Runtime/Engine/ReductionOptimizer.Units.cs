using System;
using System.Collections.Generic;
using OptGen.Engine;

namespace OptGen;

/// <summary>
/// The work units and runs of a scoped rule as data, for a device backend that must add the same values in the same
/// order as the CPU passes (<c>OptGen.Gpu.GpuScopedUpdate</c>): one definition of where a run ends (<see cref="RunEnd"/>,
/// which <see cref="Advance"/> uses too).
/// </summary>
public abstract partial class ReductionOptimizer
{
    /// <summary>
    /// Where the run that starts at element <paramref name="start"/> of tensor <paramref name="tensor"/> ends: at the
    /// unit's end, its row's end (row and column scopes) or its block's end, whichever comes first.
    /// </summary>
    private static long RunEnd(ParameterLayout layout, int tensor, ReductionScope[] allScopes, int start, long unitEnd)
    {
        long end = unitEnd;
        int columns = layout.MatrixShapeOf(tensor).Columns;
        foreach (ReductionScope scope in allScopes)
        {
            int size = scope.Kind switch
            {
                ReductionScopeKind.Row or ReductionScopeKind.Column => columns,
                ReductionScopeKind.Block => scope.BlockLength,
                _ => 0,
            };
            if (size > 0)
            {
                end = Math.Min(end, ((long)(start / size) + 1) * size);
            }
        }

        return end;
    }

    /// <summary>
    /// The scoped rule's schedule (null for a rule with tensor reductions only): its reductions' kinds and scopes, its
    /// states' scopes, the work units the CPU passes run (they depend only on the layout) and each unit's runs, in
    /// the order the CPU adds their partial results.
    /// </summary>
    internal ScopedSchedule? DescribeScopes()
    {
        ScopeInfo? info = Info;
        if (info is null)
        {
            return null;
        }

        Piece[] units = CutScopedUnits();
        var runs = new List<ScopedRun>();
        for (int u = 0; u < units.Length; u++)
        {
            Piece unit = units[u];
            long unitEnd = unit.Start + (long)unit.Length;
            for (int start = unit.Start; start < unitEnd;)
            {
                int end = (int)RunEnd(Layout, unit.Tensor, info.AllScopes, start, unitEnd);
                runs.Add(new ScopedRun(u, start, end - start));
                start = end;
            }
        }

        return new ScopedSchedule((ReductionKind[])_kinds.Clone(), (ReductionScope[])info.Scopes.Clone(), (ReductionScope?[])info.StateScopes.Clone(), units, runs.ToArray());
    }
}

/// <summary>One run of a unit: elements [<see cref="Start"/>, <see cref="Start"/> + <see cref="Length"/>) of the unit's tensor.</summary>
internal readonly record struct ScopedRun(int Unit, int Start, int Length);

/// <summary>What <see cref="ReductionOptimizer.DescribeScopes"/> hands a device backend.</summary>
internal sealed record ScopedSchedule(ReductionKind[] Kinds, ReductionScope[] Scopes, ReductionScope?[] StateScopes, Piece[] Units, ScopedRun[] Runs);
