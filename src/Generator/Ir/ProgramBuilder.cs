using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// Collects one program, for both front ends: declarations (hyperparameters, states, host states), host
    /// statements and element statements, in order, keeping each kernel scalar once. Hyperparameters are stored in
    /// the order of their <c>order</c> key, then in declaration order: their storage order is persisted (descriptor
    /// indices, <see cref="CanonicalForm"/>), so a front end states it once rather than by call order.
    /// </summary>
    internal sealed class ProgramBuilder
    {
        private readonly List<(int Order, HyperparameterDecl Decl)> _hyperparameters = new();
        private readonly List<StateDecl> _states = new();
        private readonly List<HostStateDecl> _hostStates = new();
        private readonly List<HostStatement> _host = new();
        private readonly List<ElementStatement> _body = new();
        private readonly List<ReductionDecl> _reductions = new();

        /// <summary>The hyperparameters declared so far, in storage order.</summary>
        public IEnumerable<HyperparameterDecl> Hyperparameters => _hyperparameters.Select((h, i) => (h, i)).OrderBy(x => x.h.Order).ThenBy(x => x.i).Select(x => x.h.Decl);

        public IReadOnlyList<StateDecl> States => _states;

        public IReadOnlyList<HostStateDecl> HostStates => _hostStates;

        public void Hyperparameter(int order, string name, string symbol, double value, HyperparameterRange range, string summary, bool isBoolean = false) =>
            _hyperparameters.Add((order, new HyperparameterDecl(name, symbol, value, range, isBoolean, summary)));

        public void Hyperparameter(HyperparameterDecl declaration) => _hyperparameters.Add((0, declaration));

        public void State(string name, string symbol, string initial, string summary) => _states.Add(new StateDecl(name, symbol, initial, summary));

        public void State(StateDecl declaration) => _states.Add(declaration);

        public void HostState(string name, string symbol, double initial, Expr advance, string summary) =>
            _hostStates.Add(new HostStateDecl(name, symbol, initial, advance, summary));

        /// <summary>A host value computed once per step in double, named <paramref name="name"/> and written <paramref name="symbol"/> in the documentation.</summary>
        public void Host(string name, Expr value, string symbol = "") => _host.Add(new HostStatement(name, value, false, string.Empty) { Symbol = symbol });

        /// <summary>A kernel scalar (a host value the kernel receives as a float32 field); a second one of the same name is ignored.</summary>
        public void Scalar(string name, Expr value)
        {
            if (!_host.Any(h => h.Name == name))
            {
                _host.Add(new HostStatement(name, value, true, string.Empty));
            }
        }

        public void Host(HostStatement statement) => _host.Add(statement);

        /// <summary>Overwrites p, g or a state. <paramref name="label"/> names the step for the reader; the comment adds the statement printed from <paramref name="value"/>.</summary>
        public void Assign(string target, Expr value, string label) => Add(new ElementStatement(target, value, false, string.Empty), label);

        /// <summary>Declares an element local.</summary>
        public void Local(string target, Expr value, string label) => Add(new ElementStatement(target, value, true, string.Empty), label);

        /// <summary>An element statement whose comment the front end chose (an expression rule's source line).</summary>
        public void Element(ElementStatement statement) => _body.Add(statement);

        /// <summary>
        /// The first element statement of every rule, <c>g ← g·GradientScale</c>: the runtime's factor on the gradient
        /// (unscaling, clipping; <paramref name="scale"/> may also negate it), applied in the same pass.
        /// </summary>
        public ElementStatement ScaleGradient(Expr scale)
        {
            Scalar("GradientScale", scale);
            var statement = new ElementStatement("g", Expr.Var("g") * Expr.Scalar("GradientScale"), false, "Unscale and clip the gradient in the same pass (a factor of 1 leaves it exact).");
            _body.Add(statement);
            return statement;
        }

        /// <summary>
        /// A reduction of <paramref name="operand"/> over each tensor (row, column, block of <paramref name="blockLength"/>):
        /// its operand statement <c>let norm_0 = operand</c> here, and the variable that reads its value afterwards
        /// (<see cref="ReductionDecl"/>). The pass planner splits the program at it.
        /// </summary>
        public Expr Reduction(ReductionKind kind, ReductionScopeKind scope, int blockLength, Expr operand, string label)
        {
            var reduction = new ReductionDecl(ReductionDecl.NameOf(kind, scope, blockLength, _reductions.Count), kind) { Scope = scope, BlockLength = blockLength };
            _reductions.Add(reduction);
            string over = scope switch
            {
                ReductionScopeKind.Row => "row",
                ReductionScopeKind.Column => "column",
                ReductionScopeKind.Block => "block of " + blockLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => "tensor",
            };
            _body.Add(new ElementStatement(reduction.Name, operand, true, $"{label}: {reduction.Name} = {reduction.Function}({MathText.Print(operand, new MathText.Symbols())}) over each {over}, taken in pass 1."));
            return Expr.Var(reduction.Name);
        }

        public UpdateProgram ToProgram(IEnumerable<string> ruleMath) => new(
            Hyperparameters.ToEquatableArray(),
            _states.ToEquatableArray(),
            _host.ToEquatableArray(),
            _body.ToEquatableArray(),
            ruleMath.ToEquatableArray())
        {
            HostStates = _hostStates.ToEquatableArray(),
            Reductions = _reductions.ToEquatableArray(),
        };

        private void Add(ElementStatement statement, string label) =>
            _body.Add(statement with { Comment = $"{label}: {MathText.Statement(statement, new MathText.Symbols())}." });
    }
}
