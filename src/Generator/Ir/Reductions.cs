using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// A reduction of an expression rule. In the IR it is two things: an element statement <c>let Name = operand</c>
    /// (the operand, per element, at the point of the rule where the reduction is written), and every later read of
    /// the variable <c>Name</c>, which means the reduction's value for the element's tensor (row, column, block).
    /// Names are <c>norm_0</c>, <c>row_mean_1</c>, <c>block_sum_256_2</c>, … (declared names have no '_', so they
    /// cannot collide, and the kind, scope and block length are part of the rule id and kernel name through the name).
    /// </summary>
    internal sealed record ReductionDecl(string Name, ReductionKind Kind)
    {
        /// <summary>Over which elements it combines; tensor unless the function names a scope.</summary>
        public ReductionScopeKind Scope { get; init; } = ReductionScopeKind.Tensor;

        /// <summary>The block length of a <see cref="ReductionScopeKind.Block"/> reduction (≥ 1); 0 otherwise.</summary>
        public int BlockLength { get; init; }

        /// <summary>
        /// Set by the planner (<see cref="PassPlanner"/>): the operand reads a compact state that a reduction updates
        /// (e.g. <c>mean(r)</c> of a per-row r), so it is not reduced by pass 1 but by the <see cref="SegmentLoop"/> of
        /// the operand's scope, once per row (column, block, tensor) after the compact states' updates, each value
        /// weighted by the elements of its segment (<see cref="SegmentLoop.Reductions"/>); pass 2 reads its value as
        /// any tensor reduction's. Only tensor scope.
        /// </summary>
        public bool OverSegments { get; init; }

        /// <summary>The expression-language function of each kind at tensor scope.</summary>
        public static string FunctionOf(ReductionKind kind) => kind switch
        {
            ReductionKind.Sum => "sum",
            ReductionKind.Mean => "mean",
            ReductionKind.Norm => "norm",
            _ => "maxabs",
        };

        /// <summary>The expression-language function of a kind at a scope: <c>norm</c>, <c>row_norm</c>, <c>col_norm</c>, <c>block_norm</c>.</summary>
        public static string FunctionOf(ReductionKind kind, ReductionScopeKind scope) => PrefixOf(scope) + FunctionOf(kind);

        /// <summary>
        /// The name of the <paramref name="index"/>-th reduction of a rule (from 0): its function, its block length
        /// when it has one, and the index, e.g. <c>norm_0</c>, <c>block_mean_16_1</c>. Both front ends name reductions so.
        /// </summary>
        public static string NameOf(ReductionKind kind, ReductionScopeKind scope, int blockLength, int index) =>
            FunctionOf(kind, scope) + "_" + (blockLength > 0 ? blockLength.ToString(System.Globalization.CultureInfo.InvariantCulture) + "_" : string.Empty)
            + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>This reduction's function, e.g. <c>row_mean</c>.</summary>
        public string Function => FunctionOf(Kind, Scope);

        /// <summary>The reduction function named <paramref name="name"/>, if it is one.</summary>
        public static bool TryKind(string name, out ReductionKind kind, out ReductionScopeKind scope)
        {
            foreach (ReductionScopeKind s in Scopes)
            {
                foreach (ReductionKind k in new[] { ReductionKind.Sum, ReductionKind.Mean, ReductionKind.Norm, ReductionKind.MaxAbs })
                {
                    if (FunctionOf(k, s) == name)
                    {
                        kind = k;
                        scope = s;
                        return true;
                    }
                }
            }

            kind = default;
            scope = default;
            return false;
        }

        /// <summary>Whether <paramref name="name"/> starts like a scoped reduction (<c>row_</c>, <c>col_</c>, <c>block_</c>): the lexer's one exception to names without '_'.</summary>
        public static bool IsScopedPrefix(string name) => name is "row" or "col" or "block" or "group" or "global";

        /// <summary>"sum, mean, norm, maxabs", for messages.</summary>
        public static string Names => "sum, mean, norm, maxabs";

        /// <summary>Every scope, in order.</summary>
        public static readonly ReductionScopeKind[] Scopes = { ReductionScopeKind.Tensor, ReductionScopeKind.Row, ReductionScopeKind.Column, ReductionScopeKind.Block, ReductionScopeKind.Group, ReductionScopeKind.Global };

        private static string PrefixOf(ReductionScopeKind scope) => scope switch
        {
            ReductionScopeKind.Row => "row_",
            ReductionScopeKind.Column => "col_",
            ReductionScopeKind.Block => "block_",
            ReductionScopeKind.Group => "group_",
            ReductionScopeKind.Global => "global_",
            _ => string.Empty,
        };
    }

    /// <summary>
    /// One pass over memory of a rule with reductions: its element statements and the streams it loads and stores.
    /// </summary>
    /// <param name="Body">The statements, in order (in pass 1 the reductions' operand statements are among them).</param>
    /// <param name="Reads">The streams loaded (p, g, state symbols), in storage order.</param>
    /// <param name="Writes">The streams stored.</param>
    internal sealed record PassModel(EquatableArray<ElementStatement> Body, EquatableArray<string> Reads, EquatableArray<string> Writes)
    {
        public int BytesRead => 4 * Reads.Count;

        public int BytesWritten => 4 * Writes.Count;

        /// <summary>
        /// The streams the pass assigns without loading them (pass 1 may compute p or a state it does not store, as an
        /// operand): each back end declares them as locals before the body. A local the body declares itself and then
        /// assigns again (the attribute rules' Nesterov step: dir ← dir + μ·b) is not one of them.
        /// </summary>
        public IEnumerable<string> AssignedWithoutLoad =>
            Body.Where(s => !s.DeclaresLocal && !Reads.Contains(s.Target) && s.Target != "g" && !Body.Any(d => d.DeclaresLocal && d.Target == s.Target))
                .Select(s => s.Target).Distinct();
    }

    /// <summary>
    /// A state stored compactly: one value per tensor, row, column or block instead of one per element, because
    /// every statement that assigns it computes a value that is the same across its tensor (row, column, block).
    /// </summary>
    /// <param name="Symbol">The state's symbol.</param>
    /// <param name="Scope">Tensor, Row, Column or Block.</param>
    /// <param name="BlockLength">The block length of a Block state; 0 otherwise.</param>
    internal sealed record CompactState(string Symbol, ReductionScopeKind Scope, int BlockLength);

    /// <summary>
    /// The statements that update the compact states of one scope, run once per row (column, block) of each tensor
    /// between the passes, in float32, in declaration order; the locals they need are recomputed in the loop.
    /// </summary>
    internal sealed record SegmentLoop(ReductionScopeKind Scope, int BlockLength, EquatableArray<ElementStatement> Body)
    {
        /// <summary>
        /// The reductions over compact state (<see cref="ReductionDecl.OverSegments"/>) this loop accumulates: each
        /// one's operand statement is in <see cref="Body"/> (after the compact states it reads are final); its value
        /// per segment is added in segment order, in double, weighted by the segment's element count (Σ n_s·x_s;
        /// Σ n_s·x_s² for a norm; max |x_s| for maxabs), and finished over the tensor's length.
        /// </summary>
        public EquatableArray<string> Reductions { get; init; } = EquatableArray<string>.Empty;

        /// <summary>
        /// The states of <paramref name="compact"/> this loop assigns that one of its <see cref="Reductions"/> reads: each
        /// is stored at its last assignment (<see cref="StoresEarly"/>) and read back, so the reduction sees the value as
        /// stored (rounded, with bfloat16 state), as pass 2 reads it. The CPU's and the GPU's segment loops both do so.
        /// </summary>
        public HashSet<string> StoredEarly(IEnumerable<string> compact)
        {
            var operandReads = new HashSet<string>(Body.Where(s => s.DeclaresLocal && Reductions.Contains(s.Target)).SelectMany(s => PassPlanner.Variables(s.Value)));
            return new HashSet<string>(StateAccess.Written(Body, compact).Where(operandReads.Contains));
        }

        /// <summary>Whether statement <paramref name="k"/> of <see cref="Body"/> is the last assignment of a state of <paramref name="storedEarly"/> (<see cref="StoredEarly"/>): stored and read back after it.</summary>
        public bool StoresEarly(int k, HashSet<string> storedEarly) =>
            !Body[k].DeclaresLocal && storedEarly.Contains(Body[k].Target) && !Body.Skip(k + 1).Any(later => !later.DeclaresLocal && later.Target == Body[k].Target);
    }

    /// <summary>
    /// The passes of a rule with reductions: pass 1 reduces, pass 2 updates with the tensor's (row's, column's,
    /// block's) results. A rule with a row, column or block reduction or a compact state also has
    /// <see cref="Segments"/>, run between the passes.
    /// </summary>
    internal sealed record PassPlan(EquatableArray<ReductionDecl> Reductions, PassModel Reduce, PassModel Update)
    {
        /// <summary>The states stored one value per tensor, row, column or block (not per element); empty for most rules.</summary>
        public EquatableArray<CompactState> CompactStates { get; init; } = EquatableArray<CompactState>.Empty;

        /// <summary>The compact states' updates, one loop per scope, in the order the runtime runs them.</summary>
        public EquatableArray<SegmentLoop> Segments { get; init; } = EquatableArray<SegmentLoop>.Empty;

        /// <summary>Whether the rule needs the scoped runtime (a reduction over rows, columns or blocks, or a compact state); tensor-only rules keep the per-unit ABI.</summary>
        public bool IsScoped => CompactStates.Count > 0 || Reductions.Any(r => r.Scope != ReductionScopeKind.Tensor);

        public int BytesRead => Reduce.BytesRead + Update.BytesRead;

        public int BytesWritten => Reduce.BytesWritten + Update.BytesWritten;
    }

    /// <summary>
    /// How a value varies over a tensor, for compact state: the same for every element (Uniform), per tensor, per
    /// row, column or block, or per element. Row, column and block are incomparable: a value that mixes two of them
    /// varies per element.
    /// </summary>
    internal readonly struct Variation : System.IEquatable<Variation>
    {
        public static readonly Variation Uniform = new(0, ReductionScopeKind.Tensor, 0);
        public static readonly Variation Tensor = new(1, ReductionScopeKind.Tensor, 0);
        public static readonly Variation Element = new(3, ReductionScopeKind.Tensor, 0);

        private readonly int _level; // 0 uniform, 1 tensor, 2 a segment scope, 3 element

        private Variation(int level, ReductionScopeKind scope, int blockLength)
        {
            _level = level;
            Scope = scope;
            BlockLength = blockLength;
        }

        public ReductionScopeKind Scope { get; }

        public int BlockLength { get; }

        /// <summary>Whether this is a tensor, row, column or block: a scope a compact state can have.</summary>
        public bool IsSegment => _level is 1 or 2;

        /// <summary>A reduction's variation: a group or global value is the same over each tensor, like a tensor one.</summary>
        public static Variation Of(ReductionScopeKind scope, int blockLength) =>
            scope is ReductionScopeKind.Tensor or ReductionScopeKind.Group or ReductionScopeKind.Global ? Tensor : new Variation(2, scope, blockLength);

        public static Variation Join(Variation a, Variation b)
        {
            if (a._level != b._level)
            {
                return a._level > b._level ? a : b;
            }

            return a._level == 2 && !a.Equals(b) ? Element : a;
        }

        /// <summary>Whether a value of this variation is one value per segment of <paramref name="segment"/> (it is coarser or the same).</summary>
        public bool Within(Variation segment) => _level < 2 || Equals(segment);

        public bool Equals(Variation other) => _level == other._level && Scope == other.Scope && BlockLength == other.BlockLength;

        public override bool Equals(object? obj) => obj is Variation v && Equals(v);

        public override int GetHashCode() => (_level * 31) + ((int)Scope * 7) + BlockLength;
    }

    /// <summary>
    /// Splits a rule with reductions into the fewest passes: two, since the binder refuses a reduction that depends
    /// on another (OPTG0115). A statement is <em>tainted</em> when it reads a reduction's value or a tainted variable;
    /// pass 1 runs the untainted statements the reductions' operands need, pass 2 the rest.
    /// <para>Store or recompute: a state (or p) whose every write is untainted is stored by pass 1 and only loaded
    /// by pass 2 (the same bytes as recomputing it — pass 1 writes it, pass 2 reads it, where recomputing would read
    /// it in pass 1 and read and write it in pass 2 — but pass 2 then need not read what it was computed from, such
    /// as g). This holds unless pass 2 would read an older value of it; then it is recomputed in pass 2 from the
    /// value in memory, which pass 1 then leaves alone. Element locals are always recomputed: storing one would write
    /// and read a scratch plane (8 bytes per element) where recomputing reads at most what pass 2 loads anyway.</para>
    /// </summary>
    internal static class PassPlanner
    {
        /// <summary>The plan, or null when no reduction is left in <paramref name="program"/> (its value unused and removed).</summary>
        public static PassPlan? Plan(UpdateProgram program)
        {
            var body = program.Body.ToList();
            var reductions = program.Reductions.Where(r => body.Any(s => s.DeclaresLocal && s.Target == r.Name)).ToList();
            if (reductions.Count == 0)
            {
                return null;
            }

            var names = new HashSet<string>(reductions.Select(r => r.Name));
            var states = program.States.Select(s => s.Symbol).ToList();

            // Taint, statement by statement (a reduction's operand statement is never tainted: the binder checks, except
            // for a reduction over a state computed from a reduction, which the loops between the passes reduce).
            (bool[] tainted, HashSet<int> overStates) = Taint(body, reductions, names);
            (Dictionary<string, Variation> compact, Variation[] variation) = CompactStates(body, reductions, states, tainted, names, overStates);
            var segmentNames = new HashSet<string>(overStates.Select(i => body[i].Target));
            var elementNames = new HashSet<string>(names.Where(n => !segmentNames.Contains(n)));
            var memory = new List<string> { "p" };
            memory.AddRange(states.Where(x => !compact.ContainsKey(x)));
            var streams = new List<string> { "p", "g" };
            streams.AddRange(states.Where(x => !compact.ContainsKey(x)));

            // Stored by pass 1: every write untainted, and pass 2 never reads an older value.
            var stored = new HashSet<string>(memory.Where(x =>
                Enumerable.Range(0, body.Count).Any(i => body[i].Target == x && !body[i].DeclaresLocal)
                && Enumerable.Range(0, body.Count).All(i => body[i].Target != x || !tainted[i])));
            bool changed = true;
            while (changed)
            {
                changed = false;
                foreach (string x in stored.ToList())
                {
                    int lastWrite = Enumerable.Range(0, body.Count).Last(i => body[i].Target == x && !body[i].DeclaresLocal);
                    for (int i = 0; i <= lastWrite && stored.Contains(x); i++)
                    {
                        if (InUpdatePass(body[i], tainted[i], names, stored) && Variables(body[i].Value).Contains(x))
                        {
                            stored.Remove(x);
                            changed = true;
                        }
                    }
                }
            }

            var reduce = Live(
                Enumerable.Range(0, body.Count).Where(i => !tainted[i] && !overStates.Contains(i)).Select(i => body[i]).ToList(),
                new HashSet<string>(stored),
                elementNames);
            var update = Live(
                Enumerable.Range(0, body.Count).Where(i => InUpdatePass(body[i], tainted[i], names, stored) && !compact.ContainsKey(body[i].Target)).Select(i => body[i]).ToList(),
                new HashSet<string>(memory.Where(x => !stored.Contains(x))),
                new HashSet<string>());

            // The compact states' loops, one per scope in the order the scopes first appear.
            var loops = new List<SegmentLoop>();
            // Per-tensor states first: a row (column, block) loop may read them, never the reverse.
            foreach (Variation scope in compact.Values.Distinct().OrderBy(v => v.Scope == ReductionScopeKind.Tensor ? 0 : 1))
            {
                // A reduction over compact state is reduced by the loop of its operand's scope.
                var here = overStates.Where(i => variation[i].Equals(scope)).ToList();
                var candidates = Enumerable.Range(0, body.Count)
                    .Where(i => here.Contains(i) || (!IsOperand(body[i], names) && variation[i].Within(scope) && (body[i].DeclaresLocal || !memory.Contains(body[i].Target)) && (!compact.ContainsKey(body[i].Target) || compact[body[i].Target].Equals(scope))))
                    .Select(i => body[i]).ToList();
                var loop = Live(candidates, new HashSet<string>(compact.Where(c => c.Value.Equals(scope)).Select(c => c.Key)), new HashSet<string>(here.Select(i => body[i].Target)));
                loops.Add(new SegmentLoop(scope.Scope, scope.BlockLength, loop.ToEquatableArray()) { Reductions = here.Select(i => body[i].Target).ToEquatableArray() });
            }

            return new PassPlan(
                reductions.Select(r => segmentNames.Contains(r.Name) ? r with { OverSegments = true } : r).ToEquatableArray(),
                Pass(reduce, streams, memory.Where(stored.Contains)),
                Pass(update, streams, memory.Where(x => update.Any(s => s.Target == x && !s.DeclaresLocal))))
            {
                CompactStates = states.Where(compact.ContainsKey).Select(x => new CompactState(x, compact[x].Scope, compact[x].BlockLength)).ToEquatableArray(),
                Segments = loops.ToEquatableArray(),
            };
        }

        /// <summary>
        /// The states that can be stored one value per row, column or block, with their scope, and each statement's
        /// variation. A state is compact when every statement that assigns it computes a value that varies at most
        /// per row (column, block) of one scope, given the other compact states (a fixed point from "every state is
        /// uniform"), and its value is read only where the loops between the passes leave it final: no statement of
        /// pass 1 reads it, and before its last assignment only its own assignments read it. Otherwise it is stored
        /// per element, as every state of a tensor-scope rule is.
        /// </summary>
        private static (Dictionary<string, Variation> Compact, Variation[] Variation) CompactStates(
            List<ElementStatement> body, List<ReductionDecl> reductions, List<string> states, bool[] tainted, HashSet<string> names, HashSet<int> overStates)
        {
            var perElement = new HashSet<string>();
            var reductionScopes = reductions.ToDictionary(r => r.Name, r => Variation.Of(r.Scope, r.BlockLength));
            while (true)
            {
                var scope = states.ToDictionary(x => x, x => perElement.Contains(x) ? Variation.Element : Variation.Uniform);
                Variation[] variation;
                bool changed;
                do
                {
                    variation = VariationOf(body, scope, reductionScopes);
                    changed = false;
                    foreach (string x in states.Where(x => !perElement.Contains(x)))
                    {
                        Variation joined = scope[x];
                        for (int i = 0; i < body.Count; i++)
                        {
                            if (!body[i].DeclaresLocal && body[i].Target == x)
                            {
                                joined = Variation.Join(joined, variation[i]);
                            }
                        }

                        if (!joined.Equals(scope[x]))
                        {
                            scope[x] = joined;
                            changed = true;
                        }
                    }
                }
                while (changed);

                bool refused = false;
                foreach (string x in states.Where(x => !perElement.Contains(x)))
                {
                    int last = Enumerable.Range(0, body.Count).Where(i => !body[i].DeclaresLocal && body[i].Target == x).DefaultIfEmpty(-1).Last();
                    bool ok = scope[x].IsSegment && last >= 0;
                    for (int i = 0; ok && i < body.Count; i++)
                    {
                        bool reads = Variables(body[i].Value).Contains(x);
                        bool ownAssignment = !body[i].DeclaresLocal && body[i].Target == x;
                        ok = !reads || (overStates.Contains(i)
                            ? i >= last // a reduction over the state reads its final value, in the loop after the update
                            : !IsOperand(body[i], names) && !(!tainted[i] && !ownAssignment) && (i >= last || ownAssignment));
                    }

                    if (!ok && scope[x].IsSegment)
                    {
                        perElement.Add(x);
                        refused = true;
                    }
                    else if (!scope[x].IsSegment)
                    {
                        // Stored per element: a state no statement assigns (read-only) or one assigned uniform values.
                        // The variations above took it as uniform, so the states computed from it are judged again.
                        refused |= !scope[x].Equals(Variation.Element);
                        perElement.Add(x);
                    }
                }

                if (!refused)
                {
                    return (states.Where(x => !perElement.Contains(x)).ToDictionary(x => x, x => scope[x]), variation);
                }
            }
        }

        /// <summary>
        /// Which statements are tainted (read a reduction's value or a tainted variable), and the operand statements of
        /// the tensor-scope reductions that read a state whose value (at that point of the rule) depends on a
        /// reduction, e.g. <c>mean(r)</c> after <c>r = lerp(r, row_mean(g * g), w)</c>: pass 1 cannot reduce those
        /// (the state is updated after it), so the loops between the passes do, when the state is compact
        /// (<see cref="UnplacedOverStates"/> says which cannot be).
        /// </summary>
        private static (bool[] Tainted, HashSet<int> OverStates) Taint(List<ElementStatement> body, List<ReductionDecl> reductions, HashSet<string> names)
        {
            var tainted = new bool[body.Count];
            var overStates = new HashSet<int>();
            var taintedVariables = new HashSet<string>();
            for (int i = 0; i < body.Count; i++)
            {
                if (IsOperand(body[i], names))
                {
                    if (reductions.First(r => r.Name == body[i].Target).Scope == ReductionScopeKind.Tensor && Variables(body[i].Value).Any(taintedVariables.Contains))
                    {
                        overStates.Add(i);
                    }

                    continue;
                }

                tainted[i] = Variables(body[i].Value).Any(v => names.Contains(v) || taintedVariables.Contains(v));
                if (tainted[i])
                {
                    taintedVariables.Add(body[i].Target);
                }
                else
                {
                    taintedVariables.Remove(body[i].Target);
                }
            }

            return (tainted, overStates);
        }

        /// <summary>
        /// The reductions over a state computed from a reduction that the plan cannot compute (the binder allows them
        /// and reports these with OPTG0115): the operand must be one value per tensor, row, column or block, reading
        /// only compact states (so the loops between the passes can reduce it after their updates), and no compact
        /// state may depend on its value (the loops run before it is known).
        /// </summary>
        public static IReadOnlyList<string> UnplacedOverStates(IReadOnlyList<ElementStatement> statements, IReadOnlyList<ReductionDecl> allReductions, IReadOnlyList<string> stateSymbols)
        {
            var body = statements.ToList();
            var reductions = allReductions.Where(r => body.Any(s => s.DeclaresLocal && s.Target == r.Name)).ToList();
            var names = new HashSet<string>(reductions.Select(r => r.Name));
            (bool[] tainted, HashSet<int> overStates) = Taint(body, reductions, names);
            if (overStates.Count == 0)
            {
                return new List<string>();
            }

            var states = stateSymbols.ToList();
            (Dictionary<string, Variation> compact, Variation[] variation) = CompactStates(body, reductions, states, tainted, names, overStates);

            // Whether a compact state depends on a reduction over state (directly or through locals): then none can be placed.
            var dependent = new HashSet<string>(overStates.Select(i => body[i].Target));
            bool feedsCompact = false;
            for (int i = 0; i < body.Count; i++)
            {
                if (!IsOperand(body[i], names) && Variables(body[i].Value).Any(dependent.Contains))
                {
                    dependent.Add(body[i].Target);
                    feedsCompact |= !body[i].DeclaresLocal && compact.ContainsKey(body[i].Target);
                }
            }

            return overStates
                .Where(i => feedsCompact
                    || !variation[i].IsSegment
                    || Variables(body[i].Value).Any(v => states.Contains(v) && !compact.ContainsKey(v))
                    || compact.Values.All(c => !c.Equals(variation[i])))
                .Select(i => body[i].Target).ToList();
        }

        /// <summary>Each statement's variation, walking the body with the locals' current variations.</summary>
        private static Variation[] VariationOf(List<ElementStatement> body, Dictionary<string, Variation> states, Dictionary<string, Variation> reductions)
        {
            var locals = new Dictionary<string, Variation>();
            var result = new Variation[body.Count];
            for (int i = 0; i < body.Count; i++)
            {
                Variation v = Variation.Uniform;
                foreach (string name in Variables(body[i].Value))
                {
                    v = Variation.Join(v,
                        reductions.TryGetValue(name, out Variation r) ? r
                        : states.TryGetValue(name, out Variation s) ? s
                        : locals.TryGetValue(name, out Variation l) ? l
                        : Variation.Element); // p, g
                }

                if (Expr.Draws(body[i].Value))
                {
                    v = Variation.Element;
                }

                result[i] = v;
                if (body[i].DeclaresLocal && reductions.ContainsKey(body[i].Target))
                {
                    continue; // an operand: later reads of the name mean the reduction
                }

                if (body[i].DeclaresLocal || !states.ContainsKey(body[i].Target))
                {
                    locals[body[i].Target] = body[i].Target == "p" ? Variation.Element : v;
                }
            }

            return result;
        }

        private static PassModel Pass(List<ElementStatement> body, List<string> streams, IEnumerable<string> writes)
        {
            HashSet<string> read = StateAccess.Read(body, streams);
            return new PassModel(body.ToEquatableArray(), streams.Where(read.Contains).ToEquatableArray(), writes.ToEquatableArray());
        }

        /// <summary>Pass 2 runs a statement unless it is a reduction's operand or an untainted write of a state pass 1 stores.</summary>
        private static bool InUpdatePass(ElementStatement s, bool tainted, HashSet<string> reductions, HashSet<string> stored) =>
            !IsOperand(s, reductions) && (tainted || s.DeclaresLocal || !stored.Contains(s.Target));

        private static bool IsOperand(ElementStatement s, HashSet<string> reductions) => s.DeclaresLocal && reductions.Contains(s.Target);

        /// <summary>
        /// The statements of <paramref name="candidates"/> that matter (backward liveness): those whose target is
        /// live at the end (<paramref name="liveAtEnd"/>: the streams the pass stores) or read later, and the
        /// reductions' operands (<paramref name="operands"/>).
        /// </summary>
        private static List<ElementStatement> Live(List<ElementStatement> candidates, HashSet<string> liveAtEnd, HashSet<string> operands)
        {
            var live = liveAtEnd;
            var kept = new List<ElementStatement>();
            for (int i = candidates.Count - 1; i >= 0; i--)
            {
                ElementStatement s = candidates[i];
                if (IsOperand(s, operands) || live.Contains(s.Target))
                {
                    live.Remove(s.Target);
                    live.UnionWith(Variables(s.Value));
                    kept.Add(s);
                }
            }

            kept.Reverse();
            return kept;
        }

        internal static IEnumerable<string> Variables(Expr e) =>
            e.Op == ExprOp.Variable ? new[] { e.Name } : e.Args.SelectMany(Variables);
    }
}
